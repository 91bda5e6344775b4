/**
 * Every provider the gateway knows. Adding one means adding its folder and one line here; the
 * folder registers its identity type, its User field and (later) its API fields itself.
 */
import './google/identity.js';
import './facebook/identity.js';
import './bitbucket/identity.js';
import './oauth2/identity.js';
