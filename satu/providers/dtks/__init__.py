"""A DTKS-like social-assistance register (Kemensos): households by family card, their welfare
decile, members by NIK and programme enrolments, in the register's OWN database."""
