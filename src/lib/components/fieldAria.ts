// Accessible state of a form field from the server's refusal: aria-invalid on the field, and
// aria-describedby pointing at the <FieldIssue> (id `${prefix}-${path}-issue`) that explains it.
interface HasIssues {
  issueFor(path: string): string | undefined;
}

export function fieldAria(currentError: () => HasIssues | null | undefined, prefix: string) {
  return {
    invalid: (path: string) => (currentError()?.issueFor(path) ? ('true' as const) : undefined),
    describedBy: (path: string) => (currentError()?.issueFor(path) ? `${prefix}-${path}-issue` : undefined),
  };
}
