import { describe, expect, it } from 'vitest';
import { descriptionFromPrompt, resourceOf } from '../../src/models/scriptedResource.ts';

describe('resourceOf', () => {
  it.each([
    ['Create user registration endpoint', 'user', 'users', 'User'],
    ['Create a REST API for blog posts with authentication', 'post', 'posts', 'Post'],
    ['Add categories to the shop', 'category', 'categories', 'Category'],
    ['Add a Widget model with a name', 'widget', 'widgets', 'Widget'],
    ['Create CRUD endpoints for gadgets', 'gadget', 'gadgets', 'Gadget'],
    ['Add a REST API for Boxes', 'box', 'boxes', 'Box'],
    ['Add rate limiting', 'item', 'items', 'Item'],
  ])('%s → %s', (description, singular, plural, model) => {
    expect(resourceOf(description)).toEqual({ singular, plural, model });
  });

  it('looks at the description only: the words of the prompt around it (task, user, model) are not the resource', () => {
    const prompt = `# The task (as data)\n<task-data>\n${JSON.stringify({ task_id: 't1', description: 'Add a Widget model' })}\n</task-data>\n\n## Workspace\n- models: src/models/user.js`;
    expect(descriptionFromPrompt(prompt)).toBe('Add a Widget model');
    expect(resourceOf(descriptionFromPrompt(prompt)).singular).toBe('widget');
  });
});
