// The fixture of a server test file: a node on the run's Redis, an organization with one user per
// role signed in (a cookie each) and connected (a socket each), `ok`/`fails` for commands, and
// teardown after the file. A file calls `useSignet()` once at its top and starts at what is new:
//
//   const fx = useSignet();
//   const { as, ok, fails } = fx;
//   it('a viewer cannot approve', async () => { expect((await fails(as.viewer, 'request.approve', …)).code)… });
//
// `fx.node` and `fx.org` are set once the file's first beforeAll ran; `as`, `cookies` and the
// functions are the same objects throughout, so they may be destructured at the top.
import { afterAll, beforeAll, expect } from 'vitest';
import type { Config } from '../../server/config.js';
import { startSignetNode, type SignetNode } from '../../server/index.js';
import { createLogger } from '../../server/logger.js';
import type { RedisTarget } from '../../server/store/redis.js';
import type { CommandError, CommandName } from '../../src/lib/shared/commands.js';
import { ROLES, type Role } from '../../src/lib/shared/permissions.js';
import { command, connect, redisUrl, seedOrg, signIn, startNode, testConfig, type ClientSocket, type ConnectOptions, type TestOrg } from './signet.js';
import { people, removeDir, tempDir, type Person } from './signing.js';

/** An organization with everyone signed in and connected. */
export interface SignedInOrg {
  org: TestOrg;
  cookies: Record<Role, string>;
  as: Record<Role, ClientSocket>;
}

export interface SignetFixtureOptions<Extra extends string = never> {
  /**
   * The node's configuration: variables over testConfig's, or a function called when the node starts
   * (for directories and receivers made then: what it registers with onClose is closed after the node).
   */
  config?: Record<string, string> | (() => Config | Promise<Config>);
  redis?: () => RedisTarget;
  /** Keep every line the node logs at this level in `logged` (silent otherwise). */
  log?: 'debug' | 'trace';
  /** Seed an organization (default); false leaves `org`, `cookies` and `as` empty. */
  org?: boolean;
  /** Sign in and connect each role of the organization (default). */
  signIn?: boolean;
  /** Further members (key: display name), signed in and connected like the roles; all of them are `who`. */
  people?: Record<Extra, string>;
}

export interface SignetFixture<Extra extends string = never> {
  /** The file's node (set in beforeAll). */
  readonly node: SignetNode;
  /** Its organization, one user per role (set in beforeAll). */
  readonly org: TestOrg;
  /** Each role's session cookie. */
  readonly cookies: Record<Role, string>;
  /** Each role's socket. */
  readonly as: Record<Role, ClientSocket>;
  /** Each role and further person, signed in and connected (the same sockets as `as`). */
  readonly who: Record<Role | Extra, Person>;
  /** A socket on the file's node (or `on`), closed after the file. */
  open(options: ConnectOptions, on?: SignetNode): Promise<ClientSocket>;
  /** Runs a command that must succeed; a refusal throws with the server's error. */
  ok<R = any>(socket: ClientSocket, name: CommandName | string, input?: unknown): Promise<R>;
  /** Runs a command that must be refused; returns the error. */
  fails(socket: ClientSocket, name: CommandName | string, input?: unknown): Promise<CommandError>;
  /** Another organization on the file's node, everyone signed in and connected. */
  team(on?: SignetNode): Promise<SignedInOrg>;
  /** Another node (on the same Redis unless told), closed after the file. */
  startNode(config?: Config, redis?: RedisTarget): Promise<SignetNode>;
  /**
   * Runs after the file, once the client sockets are closed. Cleanups and nodes close in the reverse
   * of the order they came: what a test registers closes before the file's node, what the config
   * function registers (a receiver, a directory) after it.
   */
  onClose(cleanup: () => unknown): void;
  /** A scratch directory, removed after the file. */
  tempDir(prefix: string): string;
  /** Every line the file's node logged (with the `log` option). */
  readonly logged: string[];
}

/** Runs a command that must succeed; a refusal throws with the server's error. */
export async function commandOk<R = any>(socket: ClientSocket, name: CommandName | string, input: unknown = {}): Promise<R> {
  const ack = await command<R>(socket, name, input);
  if (!ack.ok) throw new Error(`${name} failed: ${JSON.stringify(ack.error)}`);
  return ack.result;
}

/** Runs a command that must be refused; returns the error. */
export async function commandFails(socket: ClientSocket, name: CommandName | string, input: unknown = {}): Promise<CommandError> {
  const ack = await command(socket, name, input);
  expect(ack.ok, `${name} should have been refused`).toBe(false);
  if (ack.ok) throw new Error('unreachable');
  return ack.error;
}

/** Signs in and connects every role of `org` on `node`; sockets go through `open`. */
export async function signInEveryone(node: SignetNode, org: TestOrg, open: (options: ConnectOptions) => Promise<ClientSocket>): Promise<SignedInOrg> {
  const cookies = {} as Record<Role, string>;
  const as = {} as Record<Role, ClientSocket>;
  for (const role of ROLES) {
    cookies[role] = await signIn(node, org.users[role]);
    as[role] = await open({ cookie: cookies[role] });
  }
  return { org, cookies, as };
}

/** Registers the file's beforeAll (start, seed, sign in) and afterAll (sockets, then cleanups and nodes, last first). */
export function useSignet<Extra extends string = never>(options: SignetFixtureOptions<Extra> = {}): SignetFixture<Extra> {
  let node: SignetNode | undefined;
  let org: TestOrg | undefined;
  const cookies = {} as Record<Role, string>;
  const as = {} as Record<Role, ClientSocket>;
  const who = {} as Record<Role | Extra, Person>;
  const sockets: ClientSocket[] = [];
  const cleanups: Array<() => unknown> = [];
  const onClose = (cleanup: () => unknown) => void cleanups.push(cleanup);
  const logged: string[] = [];

  const started = (): SignetNode => {
    if (!node) throw new Error('the fixture has no node yet: use it inside a test or a beforeAll after useSignet()');
    return node;
  };
  const open = async (connectOptions: ConnectOptions, on: SignetNode = started()) => {
    const socket = await connect(on, connectOptions);
    sockets.push(socket);
    return socket;
  };
  const startAnother = async (config: Config = testConfig(), redis: RedisTarget = options.redis?.() ?? redisUrl()) => {
    const another = await startNode(config, redis);
    onClose(() => another.close());
    return another;
  };

  beforeAll(async () => {
    const config = typeof options.config === 'function' ? await options.config() : testConfig(options.config);
    if (options.log) {
      const logger = createLogger(options.log, { destination: { write: (line: string) => void logged.push(line) } });
      const own = await startSignetNode({ config, redis: options.redis?.() ?? redisUrl(), serveUi: false, logger });
      onClose(() => own.close());
      node = own;
    } else node = await startAnother(config);
    if (options.org === false) return;
    org = await seedOrg(node);
    if (options.signIn === false) return;
    Object.assign(who, await people(node, org, options.people ?? ({} as Record<Extra, string>), sockets));
    for (const role of ROLES) {
      cookies[role] = who[role].cookie;
      as[role] = who[role].socket;
    }
  });

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  return {
    get node() {
      return started();
    },
    get org() {
      if (!org) throw new Error('the fixture has no organization (org: false, or not started yet)');
      return org;
    },
    cookies,
    as,
    who,
    open,
    ok: commandOk,
    fails: commandFails,
    team: async (on = started()) => signInEveryone(on, await seedOrg(on), (o) => open(o, on)),
    startNode: startAnother,
    onClose,
    logged,
    tempDir(prefix) {
      const dir = tempDir(prefix);
      onClose(() => removeDir(dir));
      return dir;
    },
  };
}
