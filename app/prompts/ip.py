"""Removing brand names and trademark symbols from generated prompts (`ensure_ip_removal`)."""

from __future__ import annotations

import re
import unicodedata

# Brands and franchises most often named in fashion prompts; longest first so that
# "Louis Vuitton" is removed before a shorter name could match inside it.
BRANDS = sorted(
    [
        "Nike",
        "Adidas",
        "Puma",
        "Reebok",
        "New Balance",
        "Converse",
        "Vans",
        "Asics",
        "Under Armour",
        "Gucci",
        "Prada",
        "Louis Vuitton",
        "Chanel",
        "Dior",
        "Versace",
        "Hermès",
        "Hermes",
        "Balenciaga",
        "Burberry",
        "Fendi",
        "Givenchy",
        "Valentino",
        "Armani",
        "Saint Laurent",
        "YSL",
        "Bottega Veneta",
        "Celine",
        "Loewe",
        "Miu Miu",
        "Moncler",
        "Ralph Lauren",
        "Tommy Hilfiger",
        "Calvin Klein",
        "Lacoste",
        "Levi's",
        "Levis",
        "Zara",
        "H&M",
        "Uniqlo",
        "Mango",
        "Gap",
        "Supreme",
        "Off-White",
        "Patagonia",
        "The North Face",
        "Timberland",
        "Dr. Martens",
        "Birkenstock",
        "Crocs",
        "Ray-Ban",
        "Rolex",
        "Cartier",
        "Tiffany",
        "Swarovski",
        "Disney",
        "Marvel",
        "Star Wars",
        "Pokémon",
        "Pokemon",
        "Hello Kitty",
        "Barbie",
        "Coca-Cola",
        "Ferrari",
    ],
    key=len,
    reverse=True,
)
# Brand names that are also ordinary words ("a mango yellow dress", "the gap between"):
# matched only as written, capitalised.
AMBIGUOUS = {"Mango", "Gap", "Vans", "Puma", "Supreme", "Converse", "Crocs", "Tiffany", "Barbie"}


def _pattern(brand: str) -> str:
    # Either apostrophe, and a space or a hyphen between words ("Louis-Vuitton").
    return re.escape(brand).replace("'", "['\u2019]").replace(r"\ ", r"[\s-]+")


def _brands_re(brands: list[str], flags: int) -> re.Pattern[str]:
    # A brand, its possessive, and a compound it opens ("Chanel-inspired", "Nike-style").
    names = "|".join(_pattern(b) for b in brands)
    return re.compile(r"(?<![\w-])(?:" + names + r")(?:['\u2019]s)?(?:-\w+)?(?![\w-])", flags)


_BRAND_RES = (
    _brands_re([b for b in BRANDS if b not in AMBIGUOUS], re.IGNORECASE),
    _brands_re([b for b in BRANDS if b in AMBIGUOUS], 0),
)
_SYMBOLS_RE = re.compile(r"[™®©℠]")
_LOGO_RE = re.compile(r"\b(?:branded|brand|logo|logos|trademark(?:ed)?)\b", re.IGNORECASE)


def strip_ip(text: str) -> str:
    # Composed form: "Hermès" may arrive as "Herme" + a combining grave accent.
    text = _SYMBOLS_RE.sub("", unicodedata.normalize("NFC", text))
    for brands in _BRAND_RES:
        text = brands.sub("", text)
    text = _LOGO_RE.sub("", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip(" ,;:")


def contains_ip(text: str) -> bool:
    text = unicodedata.normalize("NFC", text)
    return bool(_SYMBOLS_RE.search(text) or any(b.search(text) for b in _BRAND_RES))
