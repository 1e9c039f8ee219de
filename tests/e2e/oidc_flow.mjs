// Drives Satu's OpenID provider with oauth4webapi (an independent, OpenID-certified client
// library) over real HTTP, the way a relying party and a person's browser would.
//
// Input: a JSON document on stdin (issuer, resident credentials, TOTP secret, clients and
// their private JWKs). Output: one JSON line per step on stdout; exit code 0 only when every
// step passed. No part of Satu's own code is used here.
import * as oauth from 'oauth4webapi'
import { createHmac, webcrypto } from 'node:crypto'
import { readFileSync } from 'node:fs'

const input = JSON.parse(readFileSync(0, 'utf8'))
const insecure = { [oauth.allowInsecureRequests]: true }
const steps = []

function log(step, detail = {}) {
  steps.push(step)
  process.stdout.write(JSON.stringify({ step, ...detail }) + '\n')
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`)
}

// --- RFC 6238 TOTP (SHA-1, 6 digits, 30 s), written from the RFC -------------------------------
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0, value = 0
  const out = []
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    value = (value << 5) | alphabet.indexOf(char)
    bits += 5
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8 }
  }
  return Buffer.from(out)
}

function totp(secret, at = Date.now()) {
  const counter = Buffer.alloc(8)
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 1000 / 30)))
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest()
  const offset = mac[mac.length - 1] & 0x0f
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000
  return String(code).padStart(6, '0')
}

// --- a tiny browser: cookies, manual redirects, form scraping ---------------------------------
class Browser {
  constructor(origin) { this.origin = origin; this.cookies = new Map() }

  async request(url, init = {}) {
    const target = new URL(url, this.origin)
    const headers = new Headers(init.headers || {})
    headers.set('accept', 'text/html')
    headers.set('accept-language', 'id')
    if (this.cookies.size) {
      headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '))
    }
    const response = await fetch(target, { ...init, headers, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const [name, ...rest] = pair.split('=')
      const value = rest.join('=')
      const expired = attributes.some((a) => /max-age=0/i.test(a.trim())) || value === '""' || value === ''
      if (expired) this.cookies.delete(name.trim())
      else this.cookies.set(name.trim(), value)
    }
    return response
  }

  get(url) { return this.request(url) }

  post(url, fields) {
    return this.request(url, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: this.origin },
    })
  }
}

function decodeEntities(text) {
  return text.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')
    .replace(/&#34;|&quot;/g, '"').replace(/&#39;|&#x27;/g, "'")
}

function formFields(html, action) {
  const start = html.indexOf(`action="${action}"`)
  assert(start >= 0, `a form posting to ${action}`)
  const form = html.slice(start, html.indexOf('</form>', start))
  const fields = {}
  for (const [tag] of form.matchAll(/<input\b[^>]*>/g)) {
    const name = /\bname="([^"]*)"/.exec(tag)
    const value = /\bvalue="([^"]*)"/.exec(tag)
    const type = /\btype="([^"]*)"/.exec(tag)
    if (name && (!type || type[1] === 'hidden')) fields[decodeEntities(name[1])] = value ? decodeEntities(value[1]) : ''
  }
  return fields
}

// --- helpers around oauth4webapi -------------------------------------------------------------
async function importPrivateJwk(jwk) {
  const key = await webcrypto.subtle.importKey(
    'jwk', jwk, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return { key, kid: jwk.kid }
}

function b64urlDecode(text) { return Buffer.from(text, 'base64url') }

// Verify an ES256 JWS against the provider's JWKS with WebCrypto (independent of the server).
async function verifyWithJwks(as, jwt) {
  const [h, p, s] = jwt.split('.')
  const header = JSON.parse(b64urlDecode(h))
  assert(header.alg === 'ES256', 'ES256 signature')
  const response = await fetch(as.jwks_uri)
  const { keys } = await response.json()
  const jwk = keys.find((k) => k.kid === header.kid)
  assert(jwk, `kid ${header.kid} published in the JWKS`)
  const key = await webcrypto.subtle.importKey(
    'jwk', { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, { name: 'ECDSA', namedCurve: 'P-256' },
    false, ['verify'])
  const ok = await webcrypto.subtle.verify(
    { name: 'ECDSA', hash: 'SHA-256' }, key, b64urlDecode(s), Buffer.from(`${h}.${p}`))
  assert(ok, 'signature verifies with the JWKS key')
  return JSON.parse(b64urlDecode(p))
}

async function expectOAuthError(promise, code) {
  try {
    await promise
  } catch (error) {
    const got = error?.error ?? error?.cause?.error
    assert(got === code, `expected OAuth error ${code}, got ${got ?? error}`)
    return
  }
  throw new Error(`expected OAuth error ${code}, got success`)
}

async function signIn(browser, location, resident) {
  // The provider sends the browser to its sign-in page, then to the TOTP step.
  assert(location.startsWith('/masuk'), `sign-in redirect, got ${location}`)
  let page = await browser.get(location)
  assert(page.status === 200, 'sign-in page')
  let fields = formFields(await page.text(), '/masuk')
  let response = await browser.post('/masuk', { ...fields, nik: resident.nik, password: resident.password })
  assert(response.status === 303, `password accepted (${response.status})`)
  const totpPage = response.headers.get('location')
  assert(totpPage.startsWith('/masuk/totp'), `TOTP step, got ${totpPage}`)
  page = await browser.get(totpPage)
  fields = formFields(await page.text(), '/masuk/totp')
  response = await browser.post('/masuk/totp', { ...fields, code: totp(resident.totp_secret) })
  assert(response.status === 303, `TOTP accepted (${response.status})`)
  return response.headers.get('location')
}

// --- the flows -------------------------------------------------------------------------------
async function discover() {
  const issuer = new URL(input.issuer)
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, insecure))
  assert(as.code_challenge_methods_supported?.includes('S256'), 'S256 advertised')
  assert(as.pushed_authorization_request_endpoint, 'PAR advertised')
  log('discovery', { issuer: as.issuer })
  return as
}

async function codeFlow(as, { usePar, useDpop, resident }) {
  const label = `${usePar ? 'par' : 'query'}+${useDpop ? 'dpop' : 'bearer'}`
  const rp = input.rp
  const client = { client_id: rp.client_id }
  const clientAuth = oauth.PrivateKeyJwt(await importPrivateJwk(rp.private_jwk))
  const dpop = useDpop ? oauth.DPoP(client, await oauth.generateKeyPair('ES256')) : undefined
  const browser = new Browser(input.issuer)
  const verifier = oauth.generateRandomCodeVerifier()
  const challenge = await oauth.calculatePKCECodeChallenge(verifier)
  const state = oauth.generateRandomState()
  const nonce = oauth.generateRandomNonce()
  const params = {
    client_id: rp.client_id,
    redirect_uri: rp.redirect_uri,
    response_type: 'code',
    scope: 'openid profile birthdate age_over_18 offline_access',
    state, nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    acr_values: 'urn:satu:acr:pwd-totp',
  }
  const authorizationUrl = new URL(as.authorization_endpoint)
  if (usePar) {
    const pushed = await oauth.processPushedAuthorizationResponse(as, client,
      await oauth.pushedAuthorizationRequest(as, client, clientAuth, params, { ...insecure, DPoP: dpop }))
    authorizationUrl.searchParams.set('client_id', rp.client_id)
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri)
    log(`${label}: pushed authorization request`, { expires_in: pushed.expires_in })
  } else {
    for (const [k, v] of Object.entries(params)) authorizationUrl.searchParams.set(k, v)
  }

  let response = await browser.get(authorizationUrl.href)
  assert(response.status === 303, `authorize redirects to sign-in (${response.status})`)
  const back = await signIn(browser, response.headers.get('location'), resident)
  log(`${label}: signed in with password and TOTP`)
  response = await browser.get(back)
  assert(response.status === 200, `consent page (${response.status})`)
  const consentHtml = await response.text()
  assert(consentHtml.includes(rp.name), 'consent page names the service')
  response = await browser.post('/authorize/consent', { ...formFields(consentHtml, '/authorize/consent'), decision: 'allow' })
  assert(response.status === 303, `consent accepted (${response.status})`)
  const callback = new URL(response.headers.get('location'))
  assert(callback.href.startsWith(rp.redirect_uri), 'back at the registered redirect URI')
  const callbackParams = oauth.validateAuthResponse(as, client, callback, state)
  log(`${label}: authorization response validated (state, iss)`)

  const tokenResponse = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, callbackParams,
      rp.redirect_uri, verifier, { ...insecure, DPoP: dpop }),
    { expectedNonce: nonce, requireIdToken: true })
  assert(tokenResponse.token_type.toLowerCase() === (useDpop ? 'dpop' : 'bearer'), 'token type')
  const claims = oauth.getValidatedIdTokenClaims(tokenResponse)
  assert(claims.acr === 'urn:satu:acr:pwd-totp', `acr pwd-totp, got ${claims.acr}`)
  assert(JSON.stringify(claims.amr) === JSON.stringify(['pwd', 'otp']), 'amr pwd+otp')
  assert(!String(claims.sub).includes(resident.nik), 'sub is not the NIK')
  const verified = await verifyWithJwks(as, tokenResponse.id_token)
  assert(verified.sub === claims.sub, 'JWKS-verified ID token')
  log(`${label}: token exchange; ID token verified with the JWKS`, { sub: claims.sub, acr: claims.acr })

  const rs = new Request(as.userinfo_endpoint, {
    headers: { authorization: `${useDpop ? 'DPoP' : 'Bearer'} ${tokenResponse.access_token}` },
  })
  if (!useDpop) {
    const at = await oauth.validateJwtAccessToken(as, rs, as.issuer, insecure)
    assert(at.client_id === rp.client_id, 'RFC 9068 access token validated')
    log(`${label}: access token validated as an RFC 9068 JWT`)
  }

  const userinfo = await oauth.processUserInfoResponse(as, client, claims.sub,
    await oauth.userInfoRequest(as, client, tokenResponse.access_token, { ...insecure, DPoP: dpop }))
  assert(userinfo.name === resident.name, 'userinfo name')
  assert(userinfo.birthdate === resident.birthdate, 'userinfo birthdate')
  assert(userinfo.age_over_18 === true, 'userinfo age_over_18')
  assert(!('nik' in userinfo), 'no NIK without the nik scope')
  log(`${label}: userinfo`, { claims: Object.keys(userinfo).sort() })

  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokenResponse.refresh_token,
      { ...insecure, DPoP: dpop }))
  assert(refreshed.refresh_token && refreshed.refresh_token !== tokenResponse.refresh_token, 'rotated')
  log(`${label}: refresh (rotated)`)
  await expectOAuthError(
    oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, tokenResponse.refresh_token,
        { ...insecure, DPoP: dpop })),
    'invalid_grant')
  await expectOAuthError(
    oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshed.refresh_token,
        { ...insecure, DPoP: dpop })),
    'invalid_grant')
  log(`${label}: reused refresh token refused and its family revoked`)

  // A fresh grant for revocation: sign-in and consent are remembered, so no pages this time.
  const second = await quickCode(as, browser, rp)
  const secondTokens = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, clientAuth, second.params,
      rp.redirect_uri, second.verifier, { ...insecure, DPoP: dpop }),
    { expectedNonce: second.nonce })
  await oauth.processRevocationResponse(
    await oauth.revocationRequest(as, client, clientAuth, secondTokens.refresh_token, insecure))
  const introspection = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, secondTokens.access_token, insecure))
  assert(introspection.active === false, 'revoked grant is inactive')
  log(`${label}: revocation; introspection reports inactive`)

  const logout = new URL(as.end_session_endpoint)
  logout.searchParams.set('id_token_hint', secondTokens.id_token)
  logout.searchParams.set('post_logout_redirect_uri', rp.post_logout_redirect_uri)
  logout.searchParams.set('state', 'bye')
  response = await browser.get(logout.href)
  assert(response.status === 303, `logout redirects (${response.status})`)
  assert(response.headers.get('location') === `${rp.post_logout_redirect_uri}?state=bye`, 'post-logout redirect')
  response = await browser.get('/akun')
  assert(response.status === 303 && response.headers.get('location').startsWith('/masuk'), 'signed out')
  log(`${label}: RP-initiated logout`)
}

async function quickCode(as, browser, rp) {
  const verifier = oauth.generateRandomCodeVerifier()
  const nonce = oauth.generateRandomNonce()
  const state = oauth.generateRandomState()
  const url = new URL(as.authorization_endpoint)
  for (const [k, v] of Object.entries({
    client_id: rp.client_id, redirect_uri: rp.redirect_uri, response_type: 'code',
    scope: 'openid profile birthdate age_over_18 offline_access', state, nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256', acr_values: 'urn:satu:acr:pwd-totp',
  })) url.searchParams.set(k, v)
  const response = await browser.get(url.href)
  assert(response.status === 303, 'remembered consent: straight back with a code')
  const params = oauth.validateAuthResponse(as, { client_id: rp.client_id },
    new URL(response.headers.get('location')), state)
  return { params, verifier, nonce }
}

async function clientCredentials(as) {
  const system = input.system
  const client = { client_id: system.client_id }
  const clientAuth = oauth.PrivateKeyJwt(await importPrivateJwk(system.private_jwk))
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
  const result = await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, clientAuth,
      { scope: system.scope }, { ...insecure, DPoP: dpop }))
  assert(result.token_type.toLowerCase() === 'dpop', 'DPoP-bound client_credentials token')
  assert(result.scope === system.scope, 'scope granted')
  const claims = await verifyWithJwks(as, result.access_token)
  assert(claims.sub === system.client_id && claims.cnf?.jkt, 'sub is the client, cnf.jkt bound')
  log('client_credentials with private_key_jwt and DPoP', { scope: result.scope })
  const plain = await oauth.processClientCredentialsResponse(as, client,
    await oauth.clientCredentialsGrantRequest(as, client, clientAuth, { scope: system.scope }, insecure))
  const introspection = await oauth.processIntrospectionResponse(as, client,
    await oauth.introspectionRequest(as, client, clientAuth, plain.access_token, insecure))
  assert(introspection.active === true && introspection.client_id === system.client_id, 'introspection')
  log('client_credentials (Bearer) introspected as active')
}

// The server may require DPoP nonces (RFC 9449 sections 8, 9): the DPoP handle remembers the
// nonce from the refusal's DPoP-Nonce header, and the request is simply made once more.
async function withNonceRetry(attempt) {
  try {
    return await attempt()
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error
    return await attempt()
  }
}

async function nonceClientCredentials(as) {
  const strict = input.strict_system
  const client = { client_id: strict.client_id }
  const clientAuth = oauth.PrivateKeyJwt(await importPrivateJwk(strict.private_jwk))
  const dpop = oauth.DPoP(client, await oauth.generateKeyPair('ES256'))
  let asked = false
  const result = await withNonceRetry(async () => {
    try {
      return await oauth.processClientCredentialsResponse(as, client,
        await oauth.clientCredentialsGrantRequest(as, client, clientAuth, { scope: strict.scope },
          { ...insecure, DPoP: dpop }))
    } catch (error) {
      asked ||= oauth.isDPoPNonceError(error)
      throw error
    }
  })
  assert(asked, 'the token endpoint asked for a DPoP nonce first')
  assert(result.token_type.toLowerCase() === 'dpop', 'DPoP-bound token after the nonce retry')
  log('client_credentials with DPoP server nonce (use_dpop_nonce, then retried)')
  // The resource side: userinfo asks for a nonce too (401 DPoP challenge); the nonce from the
  // token endpoint is still current, so the first call goes through to the scope check.
  let error
  try {
    await oauth.protectedResourceRequest(result.access_token, 'GET',
      new URL(as.userinfo_endpoint), new Headers(), null, { ...insecure, DPoP: dpop })
  } catch (caught) {
    error = caught
  }
  assert(error && !oauth.isDPoPNonceError(error), `userinfo accepted the cached nonce (${error})`)
  assert(String(error?.cause?.[0]?.parameters?.error) === 'insufficient_scope',
    `machine token refused for scope, not for the proof (${JSON.stringify(error?.cause)})`)
  log('DPoP nonce accepted at the resource server')
}

try {
  const as = await discover()
  const flows = input.flows ?? ['query+bearer', 'par+dpop', 'client_credentials', 'dpop_nonce']
  let next = 0
  for (const flow of flows) {
    if (flow === 'client_credentials') await clientCredentials(as)
    else if (flow === 'dpop_nonce') await nonceClientCredentials(as)
    else {
      // One resident per flow: a TOTP code is single use, and the flows run within seconds.
      const resident = input.residents[next++]
      await codeFlow(as, { usePar: flow.startsWith('par'), useDpop: flow.endsWith('dpop'), resident })
    }
  }
  process.stdout.write(JSON.stringify({ ok: true, steps: steps.length }) + '\n')
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error?.stack ?? error), cause: error?.cause ?? null }) + '\n')
  process.exit(1)
}
