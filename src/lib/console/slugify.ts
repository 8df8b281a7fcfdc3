// The slug a name suggests (projects, organizations): lowercase ASCII words joined by hyphens, as
// long as a slug may be. The user may still edit it; the server checks what is sent.
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64);
}
