"""Indonesian-aware text handling: normalising, tokens, fingerprints and redaction."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

# Common Indonesian function words (a compact list in the spirit of Tala's stop words).
STOP_WORDS = frozenset(
    """
    ada adalah agar akan aku anda apa apakah atas atau bagi bahwa banyak baru beberapa belum
    berapa bisa boleh bukan dalam dan dari dengan di dia hal hanya harus hingga ini itu jadi
    jika juga kalau kami kamu karena ke kepada ketika kita lagi lain lalu maka masih mau
    melalui mereka meski namun oleh pada para per pun saat saja sampai sangat saya sebagai
    sebelum sedang sejak selama semua sendiri seperti serta setelah sudah supaya tapi tetapi
    telah tentang tersebut tidak tolong untuk yaitu yang ya mohon bapak ibu pak bu sdh blm tdk
    yg dgn utk krn tsb nya kok sih dong deh
    """.split()  # noqa: SIM905
)
_PREFIXES = (
    "meng",
    "meny",
    "mem",
    "men",
    "me",
    "peng",
    "peny",
    "pem",
    "pen",
    "pe",
    "di",
    "ter",
    "ber",
    "ke",
    "se",
)
_SUFFIXES = ("kannya", "annya", "nya", "kan", "an", "i", "lah", "kah")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(value: str) -> str:
    """NFC-normalise, drop control characters, trim; the text is otherwise kept verbatim."""
    value = unicodedata.normalize("NFC", value)
    return _CONTROL.sub("", value).strip()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """A light Indonesian affix stripper (enough for matching, not a full Nazief-Adriani)."""
    if len(word) <= 5 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= 4:
            word = word[len(prefix) :]
            break
    return word


def tokens(text: str) -> list[str]:
    """Lowercase, strip punctuation, drop stop words, stem affixes."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = unicodedata.normalize("NFKD", lowered)
        lowered = "".join(ch for ch in lowered if not unicodedata.combining(ch))
    out = []
    for word in _WORD.findall(lowered):
        for part in word.split("-"):
            if part and part not in STOP_WORDS and len(part) > 1:
                out.append(stem(part))
    return out


def fingerprint(text: str) -> str:
    """A hash of the text's sorted distinct tokens: near-identical reports share it."""
    words = sorted(set(tokens(text)))
    return hashlib.sha256(" ".join(words).encode()).hexdigest()


@lru_cache(maxsize=20_000)
def token_set(text: str) -> frozenset[str]:
    """The distinct tokens of a text (cached: recent reports are compared again and again)."""
    return frozenset(tokens(text))


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of token sets (0..1)."""
    a, b = token_set(first), token_set(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


_NIK = re.compile(r"(?<!\d)\d{16}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<!\d)(?:\+62|62|0)8[\d\s.-]{7,14}\d(?!\d)")
_KK_WORDS = re.compile(r"(?i)\b(nik|no\.?\s*kk|nomor\s+kk)\s*[:.]?\s*\d[\d\s]{10,}")


def redact(text: str, names: list[str] | None = None) -> str:
    """Hide personal data in public text: NIK/KK numbers, e-mail, phone, and given names."""
    text = _KK_WORDS.sub(lambda m: m.group(1) + " [disembunyikan]", text)
    text = _NIK.sub("[NIK disembunyikan]", text)
    text = _EMAIL.sub("[surel disembunyikan]", text)
    text = _PHONE.sub("[telepon disembunyikan]", text)
    for name in names or []:
        name = name.strip()
        if len(name) >= 3:
            text = re.sub(re.escape(name), "[nama disembunyikan]", text, flags=re.IGNORECASE)
    return _SPACES.sub(" ", text) if "\n" not in text else text
