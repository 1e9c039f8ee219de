"""Accounts: activation with a contact check, password sign-in with throttling, reset.

No user enumeration: a wrong NIK and a wrong password give the same answer in about the same
time (a dummy argon2 check runs when the account does not exist), and lockouts are keyed by
a digest of the NIK typed, so an unknown NIK locks exactly like a known one.

This module is the accounts' public face: callers use `accounts.X`, and it re-exports each
name from the module that holds it: `account_throttle` (failure counting and lockouts, the
`AccountError` every refusal raises), `account_credentials` (creating and finding accounts,
password sign-in and changes, enabling and disabling) and `account_codes` (activation and
password reset with one-time codes to the registered contact).
"""

from __future__ import annotations

from satu.identity.account_codes import ACTIVATION_REFUSED as ACTIVATION_REFUSED
from satu.identity.account_codes import CODE_LIFETIME as CODE_LIFETIME
from satu.identity.account_codes import CODE_MAX_ATTEMPTS as CODE_MAX_ATTEMPTS
from satu.identity.account_codes import RESET_SENT as RESET_SENT
from satu.identity.account_codes import complete_activation as complete_activation
from satu.identity.account_codes import complete_password_reset as complete_password_reset
from satu.identity.account_codes import mask_email as mask_email
from satu.identity.account_codes import mask_phone as mask_phone
from satu.identity.account_codes import start_activation as start_activation
from satu.identity.account_codes import start_password_reset as start_password_reset
from satu.identity.account_credentials import PasswordCheck as PasswordCheck
from satu.identity.account_credentials import account_for_nik as account_for_nik
from satu.identity.account_credentials import change_password as change_password
from satu.identity.account_credentials import check_password as check_password
from satu.identity.account_credentials import create_account as create_account
from satu.identity.account_credentials import find_account as find_account
from satu.identity.account_credentials import last_password_change as last_password_change
from satu.identity.account_credentials import mark_login as mark_login
from satu.identity.account_credentials import set_account_status as set_account_status
from satu.identity.account_throttle import BASE_LOCK as BASE_LOCK
from satu.identity.account_throttle import DECAY as DECAY
from satu.identity.account_throttle import INVALID_LOGIN as INVALID_LOGIN
from satu.identity.account_throttle import IP_FREE_FAILURES as IP_FREE_FAILURES
from satu.identity.account_throttle import LOCKED as LOCKED
from satu.identity.account_throttle import MAX_LOCK as MAX_LOCK
from satu.identity.account_throttle import NIK_FREE_FAILURES as NIK_FREE_FAILURES
from satu.identity.account_throttle import AccountError as AccountError
from satu.identity.account_throttle import clear_failures as clear_failures
from satu.identity.account_throttle import ip_key as ip_key
from satu.identity.account_throttle import locked_for as locked_for
from satu.identity.account_throttle import nik_key as nik_key
from satu.identity.account_throttle import record_failure as record_failure
from satu.identity.models import Resident as Resident
from satu.identity.models import VerificationCode as VerificationCode
