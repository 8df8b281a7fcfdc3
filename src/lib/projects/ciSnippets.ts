// The copy-paste snippets a signing policy's page shows: the GitHub Action, the GitLab CI template
// and the CLI, filled in with this server, organization, project and policy (README: "Signing from CI").
import { version } from '../../../package.json';

export interface SnippetTarget {
  url: string;
  org: string;
  project: string;
  policy: string;
}

export type SnippetKind = 'github' | 'gitlab' | 'cli';

export const SNIPPET_LABELS: Record<SnippetKind, string> = { github: 'GitHub Actions', gitlab: 'GitLab CI', cli: 'Command line' };

export function ciSnippet(kind: SnippetKind, target: SnippetTarget): string {
  const { url, org, project, policy } = target;
  switch (kind) {
    case 'github':
      return `# A step of your build job, after the file is built
- name: Sign with Signet
  uses: your-org/signet@v${version} # the repository your Signet server is built from
  env:
    SIGNET_TOKEN: \${{ secrets.SIGNET_TOKEN }} # a CI user's API key
  with:
    url: ${url}
    org: ${org}
    project: ${project}
    policy: ${policy}
    file: dist/app.exe # the file to sign`;
    case 'gitlab':
      return `# .gitlab-ci.yml; SIGNET_TOKEN is a masked CI/CD variable holding a CI user's API key
include:
  - remote: https://git.example.com/your-org/signet/-/raw/v${version}/ci/signet.gitlab-ci.yml

sign:
  extends: .signet-sign
  variables:
    SIGNET_CLI_PACKAGE: git+https://git.example.com/your-org/signet.git#v${version}
    SIGNET_URL: ${url}
    SIGNET_ORG: ${org}
    SIGNET_PROJECT: ${project}
    SIGNET_POLICY: ${policy}
    SIGNET_FILE: dist/app.exe # the file to sign`;
    case 'cli':
      return `# SIGNET_TOKEN holds a CI user's API key, from your CI system's secrets
signet sign dist/app.exe --url ${url} --org ${org} --project ${project} --policy ${policy}`;
  }
}
