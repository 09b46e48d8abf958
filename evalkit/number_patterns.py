"""The patterns and word tables figures are read with (see :mod:`evalkit.numbers`): months and
dates, clock times, spans that are not figures, number words, currencies, scale words and
the suffixes that give a number its unit.
"""

import re

MONTHS = {m: i for i, ms in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
    ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
    ("october", "oct"), ("november", "nov"), ("december", "dec")], 1) for m in ms}
MONTH = (r"(?:[Jj]anuary|[Ff]ebruary|[Mm]arch|[Aa]pril|May|[Jj]une|[Jj]uly|[Aa]ugust|[Ss]eptember|[Oo]ctober"
          r"|[Nn]ovember|[Dd]ecember|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?")  # lower-case: not may/mar
DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
LABEL = (r"(?:key\s+)?(?:points?|items?|steps?|notes?|takeaways?|facts?|bullets?|reasons?|tips?|lessons?"
          r"|findings?|questions?|options?|parts?|sections?)")
FULL_YEAR = r"(?:1\d|20|21)\d\d"
YEAR = rf"{FULL_YEAR}|['’‘]\d\d(?![\w'’])"  # a full year, or '03 (century open)
DATE_PATTERNS = [
    re.compile(rf"\b(?P<d>{DAY})(?:\s+of)?\s+(?P<m>{MONTH})(?:,?\s+(?P<y>{YEAR}))?(?!\w)"),
    re.compile(rf"\b(?P<m>{MONTH})\s+(?P<d>{DAY})(?!\d)(?:,?\s+(?P<y>{YEAR}))?(?![\w])"),
    re.compile(rf"\b(?P<m>{MONTH}),?\s+(?P<y>{YEAR})\b"),
    re.compile(rf"\b(?P<y>{FULL_YEAR})-(?P<mm>0[1-9]|1[0-2])-(?P<dd>0[1-9]|[12]\d|3[01])\b"),
]
NUMERIC_DATE = re.compile(r"(?<![\w./])(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})(?![\w./])")
TIME = re.compile(r"(?<![\w.:])(?P<h>1[0-2]|0?[1-9])(?:[:.](?P<mi>[0-5]\d))?\s?(?P<ap>[ap])(?:\.m\.|m\b)"
                   r"|(?<![\w.:])(?P<h24>[01]?\d|2[0-3]):(?P<mi24>[0-5]\d)(?![\d:])", re.IGNORECASE)
IGNORE = [
    re.compile(r"https?://\S+|www\.\S+|[\w.+-]+@[\w-]+\.[\w.]+"),
    re.compile(r"(?m)^[ \t]*(?:[-*•]\s*)?\(?\d{1,2}[.)](?=\s)"),
    re.compile(r"\b(?:[A-Z][A-Za-z]*-?\d+|[A-Za-z]+\d+)[A-Za-z\d]*\b"),
    re.compile(r"\b(?!(?i:mid|pre|post|late|early|aged?)-)[A-Za-z]+-\d+[A-Za-z\d]*\b"),
    re.compile(r"\b[Nn]o\.?\s?\d+\b"),
    # list labels: "Point 1:", "Step 3.", "(2)", and any label word opening a line
    re.compile(rf"\b(?i:{LABEL})\s+\d{{1,2}}\b(?=\s*(?:[:.)\-–—,;]|$))|(?<![\w(])\(\d{{1,2}}\)(?![\w)])"
               rf"|(?m:^[ \t]*(?:[-*•]\s*)?(?i:{LABEL})\s+\d{{1,2}}\b)", re.MULTILINE),
]
#: "in '94", "the class of '03": a two-digit year after a word that introduces a time (an opening
#: quotation mark before digits, as in ‘20 people were killed’, is not a year)
APOSTROPHE_YEAR = re.compile(r"\b(?i:in|of|since|from|until|till|by|to|before|after|during|circa|summer|winter"
                              r"|spring|autumn|fall|class|season|vintage)\s+(['’‘](\d\d))(?![\w'’%]|\.\d)")
ORDINAL = re.compile(r"(?<![\w.])\d+(?:st|nd|rd|th)\b", re.IGNORECASE)
DIGITS = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)")
FRACTION_DIGITS = re.compile(r"(?<![\w./])(\d{1,3})/(\d{1,3})(?![\w/])")

UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
SCALE_WORDS = {"hundred": 100, "thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "dozen": 12}
NUMBER_WORD = "|".join(sorted([*UNITS, *TENS, *SCALE_WORDS], key=len, reverse=True))
WORDS = re.compile(rf"\b(?:a\s+(?=(?:hundred|thousand|million|billion|trillion|dozen)\b))?"
                    rf"(?:{NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{NUMBER_WORD}))*\b(?!-(?:{NUMBER_WORD}))",
                    re.IGNORECASE)
DENOMINATORS = {"half": 2, "halves": 2, "third": 3, "quarter": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9, "tenth": 10}
WORD_FRACTION = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine)[\s-](half|halves|thirds?|quarters?|fifths?|sixths?|sevenths?"
    r"|eighths?|ninths?|tenths?)\b", re.IGNORECASE)

CURRENCY_SYMBOLS = {"US$": "USD", "A$": "AUD", "AU$": "AUD", "C$": "CAD", "CA$": "CAD", "NZ$": "NZD",
                     "HK$": "HKD", "S$": "SGD", "R$": "BRL", "$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY",
                     "₹": "INR", "₩": "KRW", "₽": "RUB", "₺": "TRY", "₪": "ILS"}
CODES = "USD GBP EUR JPY CNY RMB INR AUD CAD CHF NZD HKD SGD ZAR SEK NOK DKK BRL RUB MXN KRW TRY".split()
PREFIX = re.compile(r"(?:(?P<sym>" + "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True))
                     + r")|\b(?P<code>" + "|".join(CODES) + r")\s?)$")
CURRENCY_WORDS = {"dollar": "USD", "pound": "GBP", "sterling": "GBP", "euro": "EUR", "yen": "JPY",
                   "yuan": "CNY", "rupee": "INR", "franc": "CHF", "rouble": "RUB", "ruble": "RUB"}
SCALE = re.compile(r"(?P<s1>m|k|b|\s?bn|\s?mn|\s?tn|\s?trn)(?![A-Za-z])|\s?(?P<s2>thousand|million|billion|trillion)\b"
                    r"|\s(?P<s3>hundred)\b", re.IGNORECASE)
SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9,
           "billion": 1e9, "tn": 1e12, "trn": 1e12, "trillion": 1e12, "hundred": 100}
SUFFIXES = [
    ("pp", re.compile(r"\s?(?:percentage[-\s]points?|pp|ppts?)\b", re.IGNORECASE)),
    ("%", re.compile(r"\s?(?:%|per\s?cent\b|percent\b|pc\b)", re.IGNORECASE)),
    ("pence", re.compile(r"(?:p\b|\s?pence\b)")),
    ("cents", re.compile(r"\s?(?:cents?\b|c\b)")),
    ("money", re.compile(r"\s(?:(?:US|Australian|Canadian|Hong\sKong|New\sZealand)\s)?(?P<w>dollar|pound|sterling|euro"
                         r"|yen|yuan|rupee|franc|rouble|ruble)s?(?:\s+sterling)?\b", re.IGNORECASE)),
    ("unit", re.compile(r"\s?(?P<u>km/h|km|kg|mph|kph|cm|mm|ft|lbs?|ml|mg|kW|MW|GW|kWh|MWh|GWh|GB|MB|TB|ha"
                        r"|mins?|hrs?|secs?|yrs?|°C|°F|°)(?![A-Za-z])")),
    ("decade", re.compile(r"['’]?s\b")),
]
RANGE_LINK = re.compile(r"^\s?(?:-|–|—|to)\s?$|^\s+and\s+$")
