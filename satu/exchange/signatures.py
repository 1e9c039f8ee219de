"""HTTP Message Signatures (RFC 9421) with Ed25519 and `Content-Digest` (RFC 9530, sha-256).

Every request and response that crosses the gateway is signed under the label `satu`:

- requests cover `@method`, `@target-uri`, `content-digest` (always, also for an empty body)
  and each of `content-type`, `x-road-client`, `x-road-id`, `x-road-userid`, `x-road-issue`,
  `x-road-represented-party`, `x-road-purpose` that the request carries;
- responses cover `@status`, `content-digest` and each of `content-type`, `x-road-client`,
  `x-road-service`, `x-road-id`, `x-road-request-id`, `x-road-request-hash` present;
- parameters: `created`, `keyid`, `alg="ed25519"` and a random `nonce`.

A verifier refuses a message whose signature is missing, malformed, made with another
algorithm, older than `MAX_AGE` (or from the future beyond `CLOCK_SKEW`), made by a key that
is unknown, revoked or not the expected member's, that leaves one of the headers above
uncovered, whose digest does not match the body, or (for requests) whose nonce was already
seen for that key. Checking goes through the `http-message-signatures` library (in
`signature_checks.py`); so does signing (`signing.py`), except that the common shapes are
signed by a direct path that gives the library's bytes exactly.
"""

from satu.exchange.signature_checks import KeyLookup as KeyLookup
from satu.exchange.signature_checks import Verified as Verified
from satu.exchange.signature_checks import header_lines as header_lines
from satu.exchange.signature_checks import purge_nonces as purge_nonces
from satu.exchange.signature_checks import remember_nonce as remember_nonce
from satu.exchange.signature_checks import verify_request as verify_request
from satu.exchange.signature_checks import verify_response as verify_response
from satu.exchange.signing import ALGORITHM as ALGORITHM
from satu.exchange.signing import CLOCK_SKEW as CLOCK_SKEW
from satu.exchange.signing import LABEL as LABEL
from satu.exchange.signing import MAX_AGE as MAX_AGE
from satu.exchange.signing import REQUEST_FIELDS as REQUEST_FIELDS
from satu.exchange.signing import RESPONSE_FIELDS as RESPONSE_FIELDS
from satu.exchange.signing import Fields as Fields
from satu.exchange.signing import RequestView as RequestView
from satu.exchange.signing import ResponseView as ResponseView
from satu.exchange.signing import SignatureError as SignatureError
from satu.exchange.signing import Unsignable as Unsignable
from satu.exchange.signing import content_digest as content_digest
from satu.exchange.signing import new_nonce as new_nonce
from satu.exchange.signing import sign_request as sign_request
from satu.exchange.signing import sign_request_lines as sign_request_lines
from satu.exchange.signing import sign_response as sign_response
from satu.exchange.signing import sign_response_lines as sign_response_lines
