import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    // The Express server mounts build/handler.js after its own routes.
    adapter: adapter({ out: 'build' }),
    // The console's Content-Security-Policy, sent as a header with every page. SvelteKit adds the
    // hash of its inline start-up script to script-src: no other inline script, no eval, no
    // script from elsewhere runs. Styles come only from the built CSS files (Svelte sets dynamic
    // styles through the CSSOM, which CSP does not restrict), so style-src needs no 'unsafe-inline';
    // the one style attribute in the markup, on SvelteKit's route announcer (a visually hidden live
    // region), is allowed by its hash alone (test/server/securityHeaders.test.ts checks the hash
    // against the generated root component; app.css hides the announcer where it is not honoured).
    // Socket.IO's WebSocket to this origin is allowed by 'self' (CSP 3); src/hooks.server.ts also
    // names ws:// and wss:// of the page's own host for browsers that predate that.
    // Express (server/http/securityHeaders.ts) adds the other headers, and a policy of its own for
    // everything that is not a page.
    csp: {
      mode: 'hash',
      directives: {
        'default-src': ['self'],
        'script-src': ['self'],
        'style-src': ['self'],
        'style-src-attr': ['unsafe-hashes', 'sha256-S8qMpvofolR8Mpjy4kQvEm7m1q8clzU4dfDH0AmvZjo='],
        'img-src': ['self', 'data:'],
        'font-src': ['self'],
        'connect-src': ['self'],
        'object-src': ['none'],
        'base-uri': ['self'],
        'form-action': ['self'],
        'frame-ancestors': ['none'],
      },
    },
  },
};

export default config;
