"""Removing brand names and trademark symbols from generated prompts (`ensure_ip_removal`)."""

from __future__ import annotations

import re

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
_BRAND_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(b) for b in BRANDS) + r")(?:['\u2019]s)?(?![\w-])",
    re.IGNORECASE,
)
_SYMBOLS_RE = re.compile(r"[™®©℠]")
_LOGO_RE = re.compile(r"\b(?:branded|brand|logo|logos|trademark(?:ed)?)\b", re.IGNORECASE)


def strip_ip(text: str) -> str:
    text = _SYMBOLS_RE.sub("", text)
    text = _BRAND_RE.sub("", text)
    text = _LOGO_RE.sub("", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip(" ,;:")


def contains_ip(text: str) -> bool:
    return bool(_BRAND_RE.search(text) or _SYMBOLS_RE.search(text))
