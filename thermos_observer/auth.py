"""Optional HTTP basic authentication from an htpasswd-style file (`--http_basic_auth_file`).

One `user:hash` per line; `#` comments and blank lines are ignored. Hashes are crypt(3) strings: bcrypt
(`$2b$`, `$2y$`, `$2a$`, as `thermos_observer --hash_password USER` or `htpasswd -B` write) or SHA-256-crypt
(`$5$`, as `htpasswd -2` or `mkpasswd -m sha-256` write). They are checked with the system's libcrypt
(libxcrypt on Debian), which does both; a line with another kind of hash is an error at start-up, so nobody is
locked out silently. A verified (user, password) pair is remembered (as a SHA-256 digest) so that an
auto-refreshing page does not pay for bcrypt on every request.
"""
from __future__ import annotations

import base64
import ctypes
import ctypes.util
import functools
import hashlib
import hmac

SUPPORTED = ("$2a$", "$2b$", "$2y$", "$5$")


class AuthFileError(Exception):
    pass


@functools.cache
def _libcrypt():
    """The system's libcrypt, loaded and its two functions declared once."""
    name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
    lib = ctypes.CDLL(name)
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = (ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int)
    return lib


def crypt(password: str, setting: str) -> str | None:
    """crypt(3): the hash of `password` with the salt/method of `setting`; None if libcrypt refuses, or if
    `password` holds a NUL, which C would read as its end (`pw\0anything` would pass as `pw`)."""
    if "\0" in password:
        return None
    out = _libcrypt().crypt(password.encode(), setting.encode())
    if not out or out.startswith(b"*"):
        return None
    return out.decode()


def hash_password(password: str, rounds: int = 12) -> str:
    """A bcrypt (`$2b$`) hash of `password` with a fresh random salt, from libcrypt (`thermos_observer
    --hash_password USER` writes the file's lines with it, so no htpasswd or mkpasswd is needed)."""
    setting = _libcrypt().crypt_gensalt(b"$2b$", rounds, None, 0)      # no random bytes given: libcrypt reads the OS's
    hashed = crypt(password, setting.decode()) if setting else None
    if hashed is None or not hashed.startswith("$2b$"):
        raise AuthFileError("libcrypt could not make a bcrypt hash")
    return hashed


def password_line(user: str, password: str) -> str:
    """`user:hash`, a line of an --http_basic_auth_file."""
    if not user or ":" in user or any(c.isspace() or ord(c) < 32 for c in user):
        raise AuthFileError(f"user names cannot be empty or contain ':', spaces or control characters: {user!r}")
    if not password:
        raise AuthFileError("empty password")
    try:
        password.encode()
    except UnicodeEncodeError:
        raise AuthFileError("the password is not valid UTF-8") from None
    if "\0" in password:                        # crypt() would silently hash only what comes before it
        raise AuthFileError("the password contains a NUL character")
    return f"{user}:{hash_password(password)}"


class BasicAuth:
    def __init__(self, entries: dict[str, str]):
        self.entries = entries
        self._verified: set[bytes] = set()

    @classmethod
    def load(cls, path: str) -> BasicAuth:
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            raise AuthFileError(f"cannot read {path}: {e.strerror}") from None
        entries = {}
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, hashed = line.partition(":")
            if not sep or not user or not hashed.startswith(SUPPORTED):
                raise AuthFileError(f"{path}:{number}: expected user:hash with a bcrypt ($2y$) or SHA-256 ($5$) hash")
            entries[user] = hashed
        if not entries:
            raise AuthFileError(f"{path}: no users")
        return cls(entries)

    def check_header(self, header: str | None) -> str | None:
        """The user if the Authorization header carries valid credentials, else None."""
        if not header or not header.startswith("Basic "):
            return None
        try:
            user, sep, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if not sep or user not in self.entries:
            return None
        key = hashlib.sha256(f"{user}\0{password}\0{self.entries[user]}".encode()).digest()
        if key in self._verified:
            return user
        computed = crypt(password, self.entries[user])
        if computed is None or not hmac.compare_digest(computed, self.entries[user]):
            return None
        if len(self._verified) > 1000:
            self._verified.clear()
        self._verified.add(key)
        return user
