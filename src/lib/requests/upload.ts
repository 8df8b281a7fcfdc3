// Submitting a signing request from the browser: a multipart upload over XMLHttpRequest (fetch
// cannot report upload progress), with the session cookie, to the same REST endpoint CI uses.
import type { CommandAck, CommandError } from '$lib/shared/commands';
import type { SigningRequest } from '$lib/shared/entities';
import { ProtocolError } from '$lib/protocol';

export interface SubmissionFields {
  projectSlug: string;
  signingPolicySlug: string;
  artifactConfigurationSlug?: string;
  description: string;
}

export interface UploadProgress {
  loaded: number;
  total: number;
}

/** The REST shape of a submitted request (server/http/signingApi.ts presentRequest): the id is what the console needs. */
export type SubmittedRequest = Pick<SigningRequest, 'id' | 'status' | 'workflowStatus'>;

export interface Upload {
  done: Promise<SubmittedRequest>;
  abort: () => void;
}

export function uploadSigningRequest(
  orgSlug: string,
  fields: SubmissionFields,
  file: File,
  onProgress: (progress: UploadProgress) => void,
): Upload {
  const xhr = new XMLHttpRequest();
  const done = new Promise<SubmittedRequest>((resolve, reject) => {
    // Fields first: the server checks the policy before it stores the file.
    const form = new FormData();
    form.append('projectSlug', fields.projectSlug);
    form.append('signingPolicySlug', fields.signingPolicySlug);
    if (fields.artifactConfigurationSlug) form.append('artifactConfigurationSlug', fields.artifactConfigurationSlug);
    form.append('description', fields.description);
    form.append('artifact', file, file.name);

    xhr.open('POST', `/api/v1/orgs/${encodeURIComponent(orgSlug)}/signing-requests`);
    xhr.withCredentials = true;
    xhr.responseType = 'text';
    xhr.upload.onprogress = (event) => {
      onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : file.size });
    };
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        reject(new ProtocolError({ code: 'INTERNAL', message: `Unexpected response from the server (HTTP ${xhr.status})` }));
        return;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as SubmittedRequest);
        return;
      }
      const error = (body as Extract<CommandAck, { ok: false }>)?.error as CommandError | undefined;
      reject(new ProtocolError(error ?? { code: 'INTERNAL', message: `The upload failed (HTTP ${xhr.status})` }));
    };
    xhr.onerror = () => reject(new ProtocolError({ code: 'UNAVAILABLE', message: 'The upload failed: the server could not be reached' }));
    xhr.onabort = () => reject(new ProtocolError({ code: 'UNAVAILABLE', message: 'The upload was canceled' }));
    xhr.send(form);
  });
  return { done, abort: () => xhr.abort() };
}
