import { describe, expect, it } from 'vitest';
import { resourceFromPrompt } from '../../src/models/scriptedResource.ts';

describe('resourceFromPrompt', () => {
  it.each([
    ['# Task 1\nCreate user registration endpoint', 'user', 'users', 'User'],
    ['# Task 2\nCreate a REST API for blog posts with authentication', 'post', 'posts', 'Post'],
    ['# Task 3\nAdd categories to the shop', 'category', 'categories', 'Category'],
    ['# Task 4\nAdd rate limiting', 'item', 'items', 'Item'],
  ])('%s → %s', (prompt, singular, plural, model) => {
    expect(resourceFromPrompt(prompt)).toEqual({ singular, plural, model });
  });

  it('takes the description when given, else the first paragraph, else any word of the prompt', () => {
    expect(resourceFromPrompt('# Task 7\nCreate user registration endpoint', 'Add categories').singular).toBe('category');
    expect(resourceFromPrompt('# Task 8\nAdd rate limiting\n\nsome text\n\nthen the invoices part').singular).toBe('invoice');
    expect(resourceFromPrompt('# Task 9\nAdd rate limiting\n\nnothing here').singular).toBe('item');
  });

  it('prefers the task description over later sections', () => {
    expect(resourceFromPrompt('# Task 5\nAdd comments\n\n## Outputs\nsrc/models/user.js').singular).toBe('comment');
    expect(resourceFromPrompt('# Task 6\nAdd rate limiting\n\n## Outputs\nsrc/models/order.js').singular).toBe('order');
  });
});
