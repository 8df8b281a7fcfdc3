// project.*, artifactConfig.*: what is signed. Open Source organizations may not create projects
// or edit their metadata: the instance's operators do (as the organization's support user).
import { REPOSITORY_URL_PERMISSION } from '../../src/lib/shared/permissions.js';
import { operatorsOnly } from '../../src/lib/shared/rules.js';
import type { WriteOp } from '../store/commit.js';
import type { ArtifactConfigRecord, ProjectRecord } from '../store/records.js';
import { randomId } from '../auth/secrets.js';
import { diffFields } from '../audit/entries.js';
import { policyRemnants } from '../signing/grants.js';
import { assertVersion, commitEntityDelete, commitEntityUpdate, defineCommand, slugChange, type CommandContext } from './define.js';
import { changeEvent, CONFIG_READERS } from '../store/events.js';
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

export async function projectInOrg(context: CommandContext, projectId: string) {
  const stored = await context.repos.project(projectId);
  if (!stored || stored.value.orgId !== context.actor.orgId) throw notFound(`Project ${projectId}`);
  return stored;
}

async function artifactConfigInOrg(context: CommandContext, configId: string) {
  const stored = await context.repos.artifactConfig(configId);
  if (!stored || stored.value.orgId !== context.actor.orgId) throw notFound(`Artifact configuration ${configId}`);
  return stored;
}

export const listProjects = defineCommand({
  name: 'project.list',
  async handler({ actor, repos }) {
    return (await repos.projects(actor.orgId)).sort((a, b) => a.name.localeCompare(b.name));
  },
});

export const getProject = defineCommand({
  name: 'project.get',
  async handler(context, input) {
    const project = (await projectInOrg(context, input.projectId)).value;
    const [artifactConfigs, policies] = await Promise.all([
      context.repos.artifactConfigs(project.id),
      context.repos.policies(project.id),
    ]);
    return { project, artifactConfigs, policies };
  },
});

export const createProject = defineCommand({
  name: 'project.create',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'create projects');
    assertMayChangeRepositoryUrl(context, null, input.repositoryUrl);
    const { actor, repos, commit } = context;
    const { keys } = repos;
    if (await repos.projectIdBySlug(actor.orgId, input.slug)) throw conflict(`A project with slug "${input.slug}" exists already`);
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
      expect: [{ key: keys.projectSlugs(actor.orgId), field: project.slug, equals: null }],
      ops: [
        ['set', keys.project(project.id), JSON.stringify(project)],
        ['sadd', keys.projects(actor.orgId), project.id],
        ['hset', keys.projectSlugs(actor.orgId), project.slug, project.id],
        ['set', keys.artifactConfig(defaultConfig.id), JSON.stringify(defaultConfig)],
        ['sadd', keys.artifactConfigs(project.id), defaultConfig.id],
        ['hset', keys.artifactConfigSlugs(project.id), defaultConfig.slug, defaultConfig.id],
      ],
      events: [
        changeEvent(actor.orgId, 'project', 'created', project.id, project, CONFIG_READERS),
        changeEvent(actor.orgId, 'artifactConfig', 'created', defaultConfig.id, defaultConfig, CONFIG_READERS),
      ],
    });
    return { project, defaultArtifactConfig: defaultConfig };
  },
});

export const updateProject = defineCommand({
  name: 'project.update',
  async handler(context, input) {
    assertNotOpenSourceRestricted(context, 'edit project metadata');
    const { actor, repos } = context;
    const { keys } = repos;
    const stored = await projectInOrg(context, input.projectId);
    const project = stored.value;
    assertMayChangeRepositoryUrl(context, project.repositoryUrl, input.repositoryUrl);
    assertVersion(`Project ${project.name}`, input.version, project, project);
    const { projectId: _id, version: _version, ...fields } = input;
    const updated: ProjectRecord = { ...project, ...dropUndefined(fields), version: project.version + 1 };
    if (!updated.repositoryUrl && project.repositoryUrl) {
      const verifying = (await repos.policies(project.id)).filter((policy) => policy.originVerification);
      if (verifying.length) {
        throw invalid('repositoryUrl', `signing policy ${verifying[0]!.slug} verifies origins against it; turn that off first`);
      }
    }
    if (updated.slug !== project.slug && (await repos.projectIdBySlug(actor.orgId, updated.slug))) {
      throw conflict(`A project with slug "${updated.slug}" exists already`);
    }
    const slug = slugChange(keys.projectSlugs(actor.orgId), project.id, project.slug, updated.slug);
    const changed = await commitEntityUpdate(context, {
      entity: 'project',
      key: keys.project(project.id),
      stored,
      updated,
      name: updated.name,
      audience: CONFIG_READERS,
      ...slug,
    });
    return changed ? updated : project;
  },
});

export const deleteProject = defineCommand({
  name: 'project.delete',
  async handler(context, input) {
    const { actor, repos, commit } = context;
    const { keys } = repos;
    const stored = await projectInOrg(context, input.projectId);
    const project = stored.value;
    if (input.confirmSlug !== project.slug) throw invalid('confirmSlug', `type the project's slug "${project.slug}" to confirm`);
    const [configs, policies, webhooks, chatChannels] = await Promise.all([
      repos.artifactConfigs(project.id),
      repos.policies(project.id),
      context.store.webhooks.ofProject(project.id),
      repos.chatChannels(project.id),
    ]);
    // Its signing requests stay, as history; what configures the project goes.
    const remnants = (await Promise.all(policies.map((p) => policyRemnants(repos, p.id)))).flat();
    await commit({
      target: { type: 'project', id: project.id, name: project.name },
      changes: { slug: { before: project.slug, after: null } },
      expect: [{ key: keys.project(project.id), equals: stored.raw }],
      ops: [
        ['del', keys.project(project.id)],
        ['srem', keys.projects(actor.orgId), project.id],
        ['hdel', keys.projectSlugs(actor.orgId), project.slug],
        ...configs.map((c): WriteOp => ['del', keys.artifactConfig(c.id)]),
        ...policies.map((p): WriteOp => ['del', keys.policy(p.id)]),
        ...remnants,
        ...webhooks.map((w): WriteOp => ['del', keys.webhook(w.id)]),
        ...chatChannels.map((c): WriteOp => ['del', keys.chatChannel(c.id)]),
        ['del', keys.artifactConfigs(project.id)],
        ['del', keys.artifactConfigSlugs(project.id)],
        ['del', keys.policies(project.id)],
        ['del', keys.policySlugs(project.id)],
        ['del', keys.webhooks(project.id)],
        ['del', keys.chatChannels(project.id)],
      ],
      events: [
        changeEvent(actor.orgId, 'project', 'deleted', project.id, undefined, CONFIG_READERS),
        ...configs.map((c) => changeEvent(actor.orgId, 'artifactConfig', 'deleted', c.id, undefined, CONFIG_READERS)),
        ...policies.map((p) => changeEvent(actor.orgId, 'policy', 'deleted', p.id, undefined, CONFIG_READERS)),
        ...webhooks.map((w) => changeEvent(actor.orgId, 'webhook', 'deleted', w.id, undefined, CONFIG_READERS)),
        ...chatChannels.map((c) => changeEvent(actor.orgId, 'chatChannel', 'deleted', c.id, undefined, CONFIG_READERS)),
      ],
    });
    return { deleted: project.id };
  },
});

export const listArtifactConfigs = defineCommand({
  name: 'artifactConfig.list',
  async handler(context, input) {
    await projectInOrg(context, input.projectId);
    return (await context.repos.artifactConfigs(input.projectId)).sort((a, b) => a.slug.localeCompare(b.slug));
  },
});

/** The writes that make `configId` the project's only default. */
async function makeDefaultWrites(context: CommandContext, projectId: string, configId: string) {
  const others = (await context.repos.artifactConfigs(projectId)).filter((c) => c.isDefault && c.id !== configId);
  return others.map((other) => {
    const updated = { ...other, isDefault: false, version: other.version + 1 };
    return {
      op: ['set', context.repos.keys.artifactConfig(other.id), JSON.stringify(updated)] as WriteOp,
      event: changeEvent(context.actor.orgId, 'artifactConfig', 'updated', other.id, updated, CONFIG_READERS),
    };
  });
}

export const createArtifactConfig = defineCommand({
  name: 'artifactConfig.create',
  async handler(context, input) {
    const { actor, repos, commit } = context;
    const { keys } = repos;
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
    const demoted = config.isDefault ? await makeDefaultWrites(context, project.id, config.id) : [];
    await commit({
      target: { type: 'artifactConfig', id: config.id, name: `${project.slug}/${config.slug}` },
      changes: diffFields(null, config),
      expect: [{ key: keys.artifactConfigSlugs(project.id), field: config.slug, equals: null }],
      ops: [
        ['set', keys.artifactConfig(config.id), JSON.stringify(config)],
        ['sadd', keys.artifactConfigs(project.id), config.id],
        ['hset', keys.artifactConfigSlugs(project.id), config.slug, config.id],
        ...demoted.map((d) => d.op),
      ],
      events: [changeEvent(actor.orgId, 'artifactConfig', 'created', config.id, config, CONFIG_READERS), ...demoted.map((d) => d.event)],
    }).catch((error) => {
      throw error?.code === 'CONFLICT' ? conflict(`Project ${project.slug} has an artifact configuration "${config.slug}" already`) : error;
    });
    return config;
  },
});

export const updateArtifactConfig = defineCommand({
  name: 'artifactConfig.update',
  async handler(context, input) {
    const { repos } = context;
    const stored = await artifactConfigInOrg(context, input.artifactConfigId);
    const config = stored.value;
    assertVersion(`Artifact configuration ${config.slug}`, input.version, config, config);
    const { artifactConfigId: _id, version: _version, ...fields } = input;
    const updated: ArtifactConfigRecord = { ...config, ...dropUndefined(fields), version: config.version + 1 };
    const demoted = updated.isDefault && !config.isDefault ? await makeDefaultWrites(context, config.projectId, config.id) : [];
    const changed = await commitEntityUpdate(context, {
      entity: 'artifactConfig',
      key: repos.keys.artifactConfig(config.id),
      stored,
      updated,
      name: config.slug,
      audience: CONFIG_READERS,
      ops: demoted.map((d) => d.op),
      events: demoted.map((d) => d.event),
    });
    return changed ? updated : config;
  },
});

export const deleteArtifactConfig = defineCommand({
  name: 'artifactConfig.delete',
  async handler(context, input) {
    const { keys } = context.repos;
    const stored = await artifactConfigInOrg(context, input.artifactConfigId);
    const config = stored.value;
    if (config.isDefault) throw conflict(`"${config.slug}" is the project's default artifact configuration; make another one the default first`);
    return commitEntityDelete(context, {
      entity: 'artifactConfig',
      key: keys.artifactConfig(config.id),
      stored,
      name: config.slug,
      identity: { slug: config.slug },
      audience: CONFIG_READERS,
      ops: [
        ['srem', keys.artifactConfigs(config.projectId), config.id],
        ['hdel', keys.artifactConfigSlugs(config.projectId), config.slug],
      ],
    });
  },
});

export function dropUndefined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
