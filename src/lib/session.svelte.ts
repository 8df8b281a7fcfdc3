// Who is signed in (REST session) and which organization they are working in, remembered per
// browser. Everything about the organization itself comes over the socket.
import type { StoredRole } from '$lib/shared/permissions';
import { getJson, postJson, ProtocolError } from '$lib/protocol';

export interface SessionUser {
  id: string;
  email: string;
  name: string;
  operator: boolean;
}

export interface OrgMembership {
  slug: string;
  name: string;
  role: StoredRole;
}

interface SignedIn {
  user: SessionUser;
  orgs: OrgMembership[];
}

const ORG_STORAGE_KEY = 'signet.org';

class Session {
  user = $state<SessionUser | null>(null);
  orgs = $state<OrgMembership[]>([]);
  /** The organization chosen in this browser, if the user still belongs to it. */
  orgSlug = $state<string | null>(null);

  /** Loads the current session; false when nobody is signed in. */
  async load(): Promise<boolean> {
    try {
      this.#apply(await getJson<SignedIn>('/api/v1/auth/session'));
      return true;
    } catch (error) {
      if (error instanceof ProtocolError && error.code === 'UNAUTHENTICATED') {
        this.clear();
        return false;
      }
      throw error;
    }
  }

  async signIn(email: string, password: string): Promise<void> {
    this.#apply(await postJson<SignedIn>('/api/v1/auth/login', { email, password }));
  }

  async acceptInvite(input: { token: string; name?: string; password: string }): Promise<void> {
    this.#apply(await postJson<SignedIn>('/api/v1/auth/accept-invite', input));
  }

  async signOut(): Promise<void> {
    try {
      await postJson('/api/v1/auth/logout');
    } finally {
      this.clear();
    }
  }

  chooseOrg(slug: string): void {
    this.orgSlug = slug;
    localStorage.setItem(ORG_STORAGE_KEY, slug);
  }

  clear(): void {
    this.user = null;
    this.orgs = [];
    this.orgSlug = null;
  }

  get currentOrg(): OrgMembership | undefined {
    return this.orgs.find((org) => org.slug === this.orgSlug);
  }

  #apply({ user, orgs }: SignedIn): void {
    this.user = user;
    this.orgs = orgs;
    const remembered = localStorage.getItem(ORG_STORAGE_KEY);
    if (remembered && orgs.some((org) => org.slug === remembered)) this.orgSlug = remembered;
    else if (orgs.length === 1) this.chooseOrg(orgs[0]!.slug);
    else this.orgSlug = null;
  }
}

export const session = new Session();
