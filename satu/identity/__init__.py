"""Digital ID: the population register, accounts and credentials, officers, the OIDC provider."""
