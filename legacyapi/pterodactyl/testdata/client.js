// Drives the real pterodactyl.js client (unchanged) against the adapter.
// Usage: PANEL_URL=http://127.0.0.1:port PANEL_KEY=ptla_… node client.js
// Prints one JSON object with what the client saw; exits non-zero when a
// step that must succeed fails. client_test.go checks the values.
'use strict';
const { Builder, User } = require('pterodactyl.js');

process.on('unhandledRejection', (err) => {
  console.error('unhandled rejection:', err);
  process.exit(2);
});

function plain(u) {
  return {
    id: u.id, externalId: u.externalId, uuid: u.uuid, username: u.username, email: u.email,
    firstName: u.firstName, lastName: u.lastName, language: u.language, rootAdmin: u.rootAdmin,
    twoFactor: u.twoFactor, createdAt: u.createdAt.toISOString(), updatedAt: u.updatedAt.toISOString(),
  };
}

async function expectError(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

async function main() {
  const out = {};
  const client = new Builder().setURL(process.env.PANEL_URL).setAPIKey(process.env.PANEL_KEY).asAdmin();
  await client.testConnection();

  const created = await client.createUser({
    username: 'JsUser', email: 'js@example.com', firstName: 'Js', lastName: 'User',
    password: 'js-password-1', admin: false, language: 'en', externalId: 'js-ext-1',
  });
  out.created = plain(created);

  const page = await client.getUsers(1);
  out.list = page.map(plain);
  out.pagination = page[0].pagination;

  const got = await client.getUser(created.id);
  out.got = plain(got);
  const byExt = await User.getByExternalId(client, 'js-ext-1');
  out.byExternal = plain(byExt);

  let u = await got.setFirstName('Jay');
  u = await u.setAdmin(true);
  u = await u.setEmail('jay@example.com');
  u = await u.setPassword('js-password-2');
  u = await u.setExternalId('js-ext-2');
  out.updated = plain(u);

  out.duplicate = await expectError(client.createUser({
    username: 'jsuser', email: 'js2@example.com', firstName: 'A', lastName: 'B',
  }));
  out.missing = await expectError(client.getUser(987654));
  out.invalid = await expectError(client.createUser({ username: 'x', email: 'nope', firstName: 'A', lastName: 'B' }));

  // delete() calls res.json() on the 204 and so rejects even against the
  // real panel; the Go test checks the user is gone instead.
  const gone = await client.createUser({ username: 'gone', email: 'gone@example.com', firstName: 'G', lastName: 'One' });
  out.goneId = gone.id;
  out.deleteError = String((await expectError(gone.delete())).message || '');
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error('client failed:', err);
  process.exit(1);
});
