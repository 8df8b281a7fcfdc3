// My notification level per signing policy: all, default (what my role and part in the request
// bring, SPEC §5) or none. The policies (and their projects' names) stay live.
import type { NotificationLevel, Project, SigningPolicy } from '$lib/shared/entities';
import type { ChangeEvent } from '$lib/shared/events';
import { command } from '$lib/realtime/socket.svelte';
import { LiveList } from '$lib/realtime/liveList.svelte';

export const LEVELS: Array<{ value: NotificationLevel; label: string; explains: string }> = [
  { value: 'all', label: 'All', explains: 'every status change of every request under this policy' },
  { value: 'default', label: 'Default', explains: 'what your role and part in a request bring' },
  { value: 'none', label: 'None', explains: 'nothing about requests under this policy' },
];

export class NotificationSettings {
  readonly policies = new LiveList<SigningPolicy>(
    (policy) => policy.id,
    (a, b) => a.slug.localeCompare(b.slug),
  );
  readonly projects = new LiveList<Project>(
    (project) => project.id,
    (a, b) => a.name.localeCompare(b.name),
  );
  /** Levels other than default, by policy id. */
  levels = $state<Record<string, NotificationLevel>>({});
  loaded = $state(false);

  async load(): Promise<void> {
    const [settings] = await Promise.all([
      command('notification.settings', {}),
      this.policies.load(() => command('policy.list', {})),
      this.projects.load(() => command('project.list', {})),
    ]);
    this.levels = { ...settings.policies };
    this.loaded = true;
  }

  apply(event: ChangeEvent): void {
    if (event.entity === 'policy') this.policies.apply(event);
    else if (event.entity === 'project') this.projects.apply(event);
  }

  levelOf(policyId: string): NotificationLevel {
    return this.levels[policyId] ?? 'default';
  }

  projectName(projectId: string): string {
    return this.projects.items.find((project) => project.id === projectId)?.name ?? '';
  }

  /** Saves one policy's level; the stored levels come back from the server. */
  async set(policyId: string, level: NotificationLevel): Promise<void> {
    const previous = this.levels;
    this.levels = { ...previous, [policyId]: level };
    try {
      const result = await command('notification.settings', { set: [{ policyId, level }] });
      this.levels = { ...result.policies };
    } catch (error) {
      this.levels = previous;
      throw error;
    }
  }
}
