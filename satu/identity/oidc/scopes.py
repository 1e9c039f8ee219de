"""Scopes, the claims each releases, and the levels of assurance (`acr`) the provider offers."""

from __future__ import annotations

from satu.identity.service import ACR_LEVELS as ACR_LEVELS
from satu.identity.service import ACR_PWD as ACR_PASSWORD
from satu.identity.service import ACR_PWD_TOTP as ACR_PASSWORD_TOTP
from satu.identity.service import DATA_USAGE_SCOPE as DATA_USAGE_SCOPE

# GovStack / eSignet names accepted at registration, mapped onto ours.
ACR_ALIASES = {
    "idbb:acr:static-code": ACR_PASSWORD,
    "idbb:acr:generated-code": ACR_PASSWORD_TOTP,
}

# Scopes a resident can grant to a service, in the order the consent screen lists them.
USER_SCOPES = (
    "openid",
    "profile",
    "birthdate",
    "address",
    "age_over_18",
    "nik",
    DATA_USAGE_SCOPE,
    "offline_access",
)
# Scopes only a machine client may hold (client_credentials).
ADMIN_SCOPES = ("add_oidc_client", "update_oidc_client")
SUPPORTED_SCOPES = USER_SCOPES + ADMIN_SCOPES
# Scopes an operator grants only through the CLI, never through the client-management API.
CLI_ONLY_SCOPES = (*ADMIN_SCOPES, "nik", DATA_USAGE_SCOPE)
# Scopes the consent screen shows in bold: they reveal much about the resident.
SENSITIVE_SCOPES = ("nik", DATA_USAGE_SCOPE)

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name",),
    "birthdate": ("birthdate",),
    "address": ("address",),
    "age_over_18": ("age_over_18",),
    "nik": ("nik",),
    DATA_USAGE_SCOPE: (),  # no claim: lets the token read the resident's data tracker
    "offline_access": (),
}
SUPPORTED_CLAIMS = (
    "sub",
    "name",
    "birthdate",
    "address",
    "age_over_18",
    "nik",
    "acr",
    "amr",
    "auth_time",
    "sid",
    "iss",
    "aud",
)


def N_(message: str) -> str:
    """Mark a message for extraction; it is translated where it is shown."""
    return message


# What the consent screen says for each scope (English msgids, translated in the template).
SCOPE_DESCRIPTIONS: dict[str, str] = {
    "openid": N_("A pseudonymous identifier that is different for every agency"),
    "profile": N_("Your full name"),
    "birthdate": N_("Your date of birth"),
    "address": N_("Your registered address (street, village, district, regency, province)"),
    "age_over_18": N_("Only whether you are 18 or older (yes or no), not your birth date"),
    "nik": N_("Your NIK (national resident number), which reveals your birth date, sex and region"),
    DATA_USAGE_SCOPE: N_(
        "Your data tracker: which agencies received your data, when and for what purpose"
    ),
    "offline_access": N_("Keep access while you are signed out (until you withdraw consent)"),
}

# GovStack `userClaims` names mapped onto our scopes.
CLAIM_TO_SCOPE = {
    "name": "profile",
    "given_name": "profile",
    "family_name": "profile",
    "birthdate": "birthdate",
    "address": "address",
    "nik": "nik",
    "age_over_18": "age_over_18",
}


def normalise_acr(value: str) -> str | None:
    """Our acr value for `value` (ours or a GovStack alias), or None if unknown."""
    value = ACR_ALIASES.get(value, value)
    return value if value in ACR_LEVELS else None
