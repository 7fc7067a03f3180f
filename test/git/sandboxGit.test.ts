import { describe, expect, it } from 'vitest';
import { openGitProject } from '../../src/git/project.ts';
import { gitCredentials, sanitisedConfig } from '../../src/git/sandboxGit.ts';
import { gitIn, sampleProject } from '../support/project.ts';

describe("the box's view of the project's git config", () => {
  it('keeps only the format settings and finds every credential for the scrubber', async () => {
    const dir = await sampleProject();
    gitIn(dir, 'remote', 'add', 'origin', 'https://deploy:tok-SECRET123@example.invalid/x.git');
    gitIn(dir, 'remote', 'add', 'gh', 'https://ghp_0123456789abcdefghijklmnop@github.example/y.git');
    gitIn(dir, 'config', 'url.https://oauth2:glpat-INSTEADOF99@gitlab.example/.insteadOf', 'https://gitlab.example/');
    gitIn(dir, 'config', 'http.https://ci.example/.extraHeader', 'Authorization: Bearer hdr-TOKEN-777');
    gitIn(dir, 'config', 'extensions.worktreeConfig', 'true');
    gitIn(dir, 'config', 'core.repositoryformatversion', '1');
    const project = await openGitProject(dir);
    const text = await sanitisedConfig(project.commonDir);
    expect(text).not.toMatch(/SECRET|remote|url|extraheader|hooks/i);
    expect(text).toContain('[core]');
    expect(text).toContain('\trepositoryformatversion = "1"');
    expect(text).toContain('[extensions]\n\tworktreeconfig = "true"');
    const secrets = await gitCredentials(dir);
    expect(secrets).toEqual(expect.arrayContaining(['tok-SECRET123', 'ghp_0123456789abcdefghijklmnop', 'glpat-INSTEADOF99', 'hdr-TOKEN-777']));
    expect(secrets).not.toContain('deploy');
    expect(secrets).not.toContain('oauth2');
  });
});
