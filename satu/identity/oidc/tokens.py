"""Codes, grants and tokens: issuing, exchanging, rotating, revoking and introspecting.

- Authorization codes: random, stored as SHA-256, single use, 60 s, bound to client,
  redirect_uri, PKCE S256 challenge, nonce and (optionally) a DPoP key. Presenting a used
  code again revokes every token issued from it.
- Access tokens: ES256-signed JWTs in the RFC 9068 profile (`typ: at+jwt`), 5 minutes,
  recorded by `jti` so they can be revoked and introspected; DPoP-bound ones carry `cnf.jkt`.
- Refresh tokens: random, stored as SHA-256, one family per grant, rotated on every use; a
  rotated-out token presented again revokes the whole family (RFC 9700 reuse detection).
- ID tokens: ES256, 5 minutes, pairwise `sub` per agency.

This module is the tokens' public face: callers use `tokens.X`, and it re-exports each name
from the module that holds it: `token_issuing` (codes, minting access, ID and refresh
tokens, pairwise subjects), `token_grants` (the authorization_code, refresh_token and
client_credentials grants) and `token_status` (validating and describing access tokens,
revoking a token family).
"""

from __future__ import annotations

from satu.identity.oidc.token_grants import client_credentials as client_credentials
from satu.identity.oidc.token_grants import exchange_code as exchange_code
from satu.identity.oidc.token_grants import refresh as refresh
from satu.identity.oidc.token_issuing import ACCESS_TOKEN_TTL as ACCESS_TOKEN_TTL
from satu.identity.oidc.token_issuing import CODE_TTL as CODE_TTL
from satu.identity.oidc.token_issuing import ID_TOKEN_TTL as ID_TOKEN_TTL
from satu.identity.oidc.token_issuing import REFRESH_TOKEN_TTL as REFRESH_TOKEN_TTL
from satu.identity.oidc.token_issuing import issue_code as issue_code
from satu.identity.oidc.token_issuing import pairwise_sub as pairwise_sub
from satu.identity.oidc.token_issuing import session_sid as session_sid
from satu.identity.oidc.token_issuing import subject_for as subject_for
from satu.identity.oidc.token_status import AccessInfo as AccessInfo
from satu.identity.oidc.token_status import access_token_info as access_token_info
from satu.identity.oidc.token_status import get_grant as get_grant
from satu.identity.oidc.token_status import revoke_grant as revoke_grant
from satu.identity.oidc.token_status import validate_access_token as validate_access_token
