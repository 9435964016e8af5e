"""The password policy: long enough, not a common or default password, not the user name.

Every new password (user creation, password change, the bootstrap admin outside dev mode)
passes :func:`check_password`. The blocklist holds passwords that top published lists of
leaked passwords, vendor and product defaults, and this project's own dev password: a
password equal to one of them, or one of them with only digits and symbols added
around it (``Password123!``), is refused. Comparison ignores case.
"""

from __future__ import annotations

import re

from hub.services.errors import Invalid
from hub.settings import DEV_ADMIN_PASSWORD, KNOWN_WEAK_PASSWORDS, MIN_PASSWORD_CHARS

#: Longest password accepted, in characters.
MAX_PASSWORD_CHARS = 256
#: Fewest different characters a password must hold.
MIN_DISTINCT_CHARS = 5

#: Common, leaked and default passwords (lower case), and the project's own defaults.
BLOCKLIST: frozenset[str] = frozenset(
    {
        *KNOWN_WEAK_PASSWORDS,
        DEV_ADMIN_PASSWORD,
        "clearline-dev",
        "clearline-admin",
        "clearline123",
        "123456",
        "1234567",
        "12345678",
        "123456789",
        "1234567890",
        "12345678910",
        "123123123",
        "111111111111",
        "000000000000",
        "987654321",
        "0987654321",
        "qwerty",
        "qwerty123",
        "qwertyuiop",
        "qwertyuiop123",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "zaq12wsx",
        "asdfghjkl",
        "asdfghjkl123",
        "zxcvbnm",
        "zxcvbnm123",
        "abc123",
        "abcd1234",
        "abcdefg123",
        "aa123456",
        "a123456789",
        "password",
        "password1",
        "password123",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "pa$$word",
        "mypassword",
        "newpassword",
        "password-password",
        "letmein",
        "letmeinplease",
        "welcome",
        "welcome1",
        "welcometo",
        "iloveyou",
        "iloveyou123",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "basketball",
        "superman",
        "batman",
        "starwars",
        "pokemon",
        "dragon",
        "monkey",
        "shadow",
        "master",
        "michael",
        "jennifer",
        "charlie",
        "freedom",
        "whatever",
        "trustno1",
        "hello123",
        "helloworld",
        "hello-world",
        "loveme",
        "secret123",
        "topsecret",
        "administrator",
        "admin123",
        "admin1234",
        "admin12345",
        "adminadmin",
        "admin@123",
        "administrator123",
        "root",
        "rootroot",
        "toor",
        "default",
        "default123",
        "guest",
        "guestguest",
        "user",
        "useruser",
        "test",
        "test123",
        "testtest",
        "test-password",
        "changeme123",
        "changethis",
        "change-this",
        "changeit",
        "temp",
        "temp1234",
        "temporary",
        "setup",
        "system",
        "manager",
        "operator",
        "supervisor",
        "inspector",
        "customs",
        "service",
        "support",
        "public",
        "private",
        "access",
        "login",
        "passpass",
        "pass1234",
        "raspberry",
        "ubuntu",
        "postgres",
        "mosquitto",
        "mysql",
        "oracle",
        "cisco",
        "huawei",
        "siemens",
        "1111",
        "0000",
        "woaini",
        "woaini1314",
        "5201314",
        "1314520",
        "88888888",
        "66666666",
        "888888888888",
        "666666666666",
        "147258369",
        "159357",
        "a1b2c3d4",
        "q1w2e3r4",
        "qazwsx",
        "qazwsxedc",
        "1qaz2wsx",
        "zhang123",
        "wang123",
        "li123456",
        "china123",
        "beijing",
        "shanghai",
        "shenzhen",
        "customs123",
        "hub-admin",
        "hubadmin",
    }
)

_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def _core(password: str) -> str:
    """The password without digits and symbols at its start and end, in lower case."""
    return _EDGES.sub("", password.lower())


def password_problem(password: str, user_name: str = "") -> str | None:
    """Return why ``password`` is refused, or None when it passes the policy."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"the password must be at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"the password must be at most {MAX_PASSWORD_CHARS} characters"
    lowered = password.strip().lower()
    if lowered in BLOCKLIST or _core(password) in BLOCKLIST:
        return "the password is a common or default password; choose another"
    if len(set(lowered)) < MIN_DISTINCT_CHARS:
        return f"the password needs at least {MIN_DISTINCT_CHARS} different characters"
    name = user_name.strip().lower()
    if len(name) >= 3 and name in lowered:
        return "the password must not contain the user name"
    return None


def check_password(password: str, user_name: str = "") -> None:
    """Raise :class:`Invalid` (field ``password``) unless ``password`` passes the policy."""
    problem = password_problem(password, user_name)
    if problem is not None:
        raise Invalid(problem, field="password")
