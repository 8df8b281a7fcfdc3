// project.*, artifactConfig.*: what is signed. Open Source organizations may not create projects
// or edit their metadata: the instance's operators do (as the organization's support user).
import { REPOSITORY_URL_PERMISSION } from '../../src/lib/shared/permissions.js';
import { operatorsOnly } from '../../src/lib/shared/rules.js';
import type { ArtifactConfigRecord, ProjectRecord } from '../store/records.js';
import { combinePlans } from '../store/plan.js';
import { randomId } from '../auth/secrets.js';
import { diffFields } from '../audit/entries.js';
import { assertVersion, commitRemoval, commitUpdate, defineCommand, type CommandContext } from './define.js';
import { conflict, forbidden, invalid, notFound } from '../errors.js';

const DEFAULT_MAX_ARTIFACT_BYTES = 100 * 1024 ** 2;

/** Open Source organizations: project metadata and certificates are the operators' to manage. */
export function assertNotOpenSourceRestricted({ actor }: CommandContext, what: string): void {
  if (operatorsOnly(actor.org, actor.type)) {
    throw forbidden(`In an Open Source organization only the instance operators ${what}`);
  }
}

/**
 * Origin verification trusts the repository URL: whoever may only edit projects (config:write)
 * must not be able to point it at a repository they control. Refused as a whole (FORBIDDEN, so
 * the dispatcher audits the denial): no other field of the same command is applied.
 */
function assertMayChangeRepositoryUrl({ actor }: CommandContext, from: string | null, to: string | null | undefined): void {
  if (to === undefined || (to ?? null) === from || actor.permissions.has(REPOSITORY_URL_PERMISSION)) return;
  throw forbidden(
    `Setting a project's repository URL needs ${REPOSITORY_URL_PERMISSION}: origin verification trusts it. ` +
      'Leave it out (or unchanged) and ask an admin to set it.',
  );
}

export async function projectInOrg({ actor, store }: CommandContext, projectId: string) {
  const stored = await store.projects.get(actor.orgId, projectId);
  if (!stored) throw notFound(`Project ${projectId}`);
  return stored;
}

async function artifactConfigInOrg({ actor, store }: CommandContext, configId: string) {
  const stored = await store.artifactConfigs.get(actor.orgId, configId);
  if (!stored) throw notFound(`Artifact configuration ${configId}`);
  return stored;
}

export const listProjects = defineCommand({
  name: 'project.list',
  async handler({ actor, store }) {
    return (await store.projects.list(actor.orgId)).sort((a, b) => a.name.localeCompare(b.name));
  },
});

export const getProject = defineCommand({
  name: 'project.get',
  async handler(context, input) {
    const project = (await projectInOrg(context, input.projectId)).value;
    const [artifactConfigs, policies] = await Promise.all([
      context.store.artifactConfigs.ofProject(project.id),
      context.store.policies.ofProject(project.id),
    ]);
    return { project, artifactConfigs, policies };
  },
});

export const createProject = defineCommand({
  name: 'project.create',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'create projects');
    assertMayChangeRepositoryUrl(context, null, input.repositoryUrl);
    const { actor, store, commit } = context;
    if (await store.projects.slugTaken(actor.orgId, input.slug)) throw conflict(`A project with slug "${input.slug}" exists already`);
    const now = new Date().toISOString();
    const project: ProjectRecord = {
      id: randomId(),
      orgId: actor.orgId,
      slug: input.slug,
      name: input.name,
      status: 'active',
      repositoryUrl: input.repositoryUrl,
      description: input.description,
      createdAt: now,
      version: 1,
    };
    // Every project starts with a default artifact configuration that accepts any file name.
    const defaultConfig: ArtifactConfigRecord = {
      id: randomId(),
      orgId: actor.orgId,
      projectId: project.id,
      slug: 'default',
      name: 'Default',
      fileNamePattern: '*',
      maxSizeBytes: DEFAULT_MAX_ARTIFACT_BYTES,
      signatureFormat: 'cms-detached',
      isDefault: true,
      createdAt: now,
      version: 1,
    };
    await commit({
      target: { type: 'project', id: project.id, name: project.name },
      changes: diffFields(null, project),
      ...combinePlans(store.projects.create(project), store.artifactConfigs.create(defaultConfig)),
    });
    return { project, defaultArtifactConfig: defaultConfig };
  },
});

export const updateProject = defineCommand({
  name: 'project.update',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'edit project metadata');
    const { actor, store } = context;
    const stored = await projectInOrg(context, input.projectId);
    const project = stored.value;
    assertMayChangeRepositoryUrl(context, project.repositoryUrl, input.repositoryUrl);
    assertVersion(`Project ${project.name}`, input.version, project, project);
    const { projectId: _id, version: _version, ...fields } = input;
    const updated: ProjectRecord = { ...project, ...dropUndefined(fields), version: project.version + 1 };
    if (!updated.repositoryUrl && project.repositoryUrl) {
      const verifying = (await store.policies.ofProject(project.id)).filter((policy) => policy.originVerification);
      if (verifying.length) {
        throw invalid('repositoryUrl', `signing policy ${verifying[0]!.slug} verifies origins against it; turn that off first`);
      }
    }
    if (updated.slug !== project.slug && (await store.projects.slugTaken(actor.orgId, updated.slug))) {
      throw conflict(`A project with slug "${updated.slug}" exists already`);
    }
    const changed = await commitUpdate(context, { entity: 'project', stored, updated, name: updated.name, plan: store.projects.update(stored, updated) });
    return changed ? updated : project;
  },
});

export const deleteProject = defineCommand({
  name: 'project.delete',
  async handler(context, input) {
    const { store, commit } = context;
    const stored = await projectInOrg(context, input.projectId);
    const project = stored.value;
    if (input.confirmSlug !== project.slug) throw invalid('confirmSlug', `type the project's slug "${project.slug}" to confirm`);
    const [configs, policies, webhooks, chatChannels] = await Promise.all([
      store.artifactConfigs.ofProject(project.id),
      store.policies.ofProject(project.id),
      store.webhooks.ofProject(project.id),
      store.chatChannels.ofProject(project.id),
    ]);
    // Its signing requests stay, as history; what configures the project goes.
    await commit({
      target: { type: 'project', id: project.id, name: project.name },
      changes: { slug: { before: project.slug, after: null } },
      ...combinePlans(
        store.projects.remove(stored),
        store.artifactConfigs.removeWithProject(project, configs),
        await store.policies.removeWithProject(project, policies),
        ...webhooks.map((webhook) => store.webhooks.remove(webhook)),
        store.chatChannels.removeWithProject(project, chatChannels),
      ),
    });
    return { deleted: project.id };
  },
});

export const listArtifactConfigs = defineCommand({
  name: 'artifactConfig.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    return (await context.store.artifactConfigs.ofProject(input.projectId)).sort((a, b) => a.slug.localeCompare(b.slug));
  },
});

export const createArtifactConfig = defineCommand({
  name: 'artifactConfig.create',
  async handler(context, input) {
    const { actor, store, commit } = context;
    const project = (await projectInOrg(context, input.projectId)).value;
    const config: ArtifactConfigRecord = {
      id: randomId(),
      orgId: actor.orgId,
      projectId: project.id,
      slug: input.slug,
      name: input.name,
      fileNamePattern: input.fileNamePattern,
      maxSizeBytes: input.maxSizeBytes,
      signatureFormat: input.signatureFormat,
      isDefault: input.isDefault,
      createdAt: new Date().toISOString(),
      version: 1,
    };
    const plan = store.artifactConfigs.create(config);
    await commit({
      target: { type: 'artifactConfig', id: config.id, name: `${project.slug}/${config.slug}` },
      changes: diffFields(null, config),
      ...(config.isDefault ? combinePlans(plan, await store.artifactConfigs.demoteOthers(config)) : plan),
    }).catch((error) => {
      throw error?.code === 'CONFLICT' ? conflict(`Project ${project.slug} has an artifact configuration "${config.slug}" already`) : error;
    });
    return config;
  },
});

export const updateArtifactConfig = defineCommand({
  name: 'artifactConfig.update',
  async handler(context, input) {
    const { store } = context;
    const stored = await artifactConfigInOrg(context, input.artifactConfigId);
    const config = stored.value;
    assertVersion(`Artifact configuration ${config.slug}`, input.version, config, config);
    const { artifactConfigId: _id, version: _version, ...fields } = input;
    const updated: ArtifactConfigRecord = { ...config, ...dropUndefined(fields), version: config.version + 1 };
    const plan = store.artifactConfigs.update(stored, updated);
    const changed = await commitUpdate(context, {
      entity: 'artifactConfig',
      stored,
      updated,
      name: config.slug,
      plan: updated.isDefault && !config.isDefault ? combinePlans(plan, await store.artifactConfigs.demoteOthers(updated)) : plan,
    });
    return changed ? updated : config;
  },
});

export const deleteArtifactConfig = defineCommand({
  name: 'artifactConfig.delete',
  async handler(context, input) {
    const stored = await artifactConfigInOrg(context, input.artifactConfigId);
    const config = stored.value;
    if (config.isDefault) throw conflict(`"${config.slug}" is the project's default artifact configuration; make another one the default first`);
    return commitRemoval(context, {
      entity: 'artifactConfig',
      id: config.id,
      name: config.slug,
      identity: { slug: config.slug },
      plan: context.store.artifactConfigs.remove(stored),
    });
  },
});

export function dropUndefined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
