"""Free text from citizens: the answers a channel that cannot show a service's questions (SMS,
e-mail) records before it asks them, and the part of a text that may be shown to anyone.

`unasked_answers` gives each required question nobody has asked yet its catch-all choice:
nothing is read from a request's own words, so a "yes" in a message answers no question (SMS
asks the questions afterwards, node/intake/sms/dialogue.py). `redact` is what every public page
and the unkeyed Open311 API show of a citizen's text or a staff reply: e-mail addresses, phone
numbers (international and national formats), postal addresses, postcodes, quoted replies and
signature blocks are taken out, and so is every word of what the node knows about the person
(their name, e-mail and phone). `strip_signature` and `strip_quoted_reply` are the two cuts on
their own. `street_of` reduces an address to its street.
"""

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers

from node.errors import InvalidInput
from node.services.schemas import Attribute, Datatype, ServiceSpec

FALLBACK_KEYS = ("other", "unknown", "altro")

EMAIL_MARK = "[e-mail]"
PHONE_MARK = "[phone]"
ADDRESS_MARK = "[address]"
NAME_MARK = "[name]"


def catch_all(attribute: Attribute) -> str | None:
    """The choice that stands for "not said" (other, unknown), when the question has one."""
    return next((v.key for v in attribute.values if v.key in FALLBACK_KEYS), None)


def unasked_answers(spec: ServiceSpec, given: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answers given, and each required question left open taking its catch-all choice.

    Raises InvalidInput naming the question when a required one has no catch-all.
    """
    answers = dict(given or {})
    for attribute in spec.attributes:
        if not attribute.required or attribute.code in answers:
            continue
        fallback = catch_all(attribute)
        if fallback is None:
            if attribute.datatype in (Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST):
                keys = ", ".join(v.key for v in attribute.values)
                message = f"{attribute.description} Write one of: {keys}"
            else:
                message = f"{attribute.description} cannot be answered here; use the web portal"
            raise InvalidInput(message, {f"attribute[{attribute.code}]": "required"})
        multi = attribute.datatype is Datatype.MULTIVALUELIST
        answers[attribute.code] = [fallback] if multi else fallback
    return answers


# --- Quoted replies and signatures -------------------------------------------------------------

_QUOTE_HEADER = re.compile(
    r"^(?:on\b.{0,200}\bwrote:|il\b.{0,200}\bha scritto:|am\b.{0,200}\bschrieb.{0,80}:"
    r"|le\b.{0,200}\ba écrit\s?:|el\b.{0,200}\bescribió:|op\b.{0,200}\bschreef.{0,80}:"
    r"|-{2,}\s?(?:original message|messaggio originale|ursprüngliche nachricht"
    r"|message d'origine|mensaje original|oorspronkelijk bericht)\s?-{2,}"
    r"|_{10,}|(?:from|da|von|de|van|od|från|fra):\s.+@.+)\s*$",
    re.IGNORECASE,
)

# Closings that start a signature block, in the languages of the federation's cities. A closing
# is a line of its own, optionally followed by a comma and a name ("Thanks, Anna").
_CLOSINGS = (
    "best regards|kind regards|warm regards|regards|best wishes|all the best|best|thanks|"
    "thank you|many thanks|thanks again|cheers|sincerely|yours sincerely|yours faithfully|"
    "yours truly|yours|with thanks|"
    "cordiali saluti|distinti saluti|saluti|un saluto|cordialmente|grazie|grazie mille|"
    "grazie in anticipo|buona giornata|a presto|in attesa di riscontro|"
    "mit freundlichen grüßen|mit freundlichen grüssen|mit freundlichen gruessen|"
    "freundliche grüße|viele grüße|beste grüße|liebe grüße|herzliche grüße|grüße|gruß|mfg|lg|"
    "danke|vielen dank|"
    "cordialement|bien cordialement|bien à vous|salutations|meilleures salutations|"
    "sincères salutations|merci|merci beaucoup|veuillez agréer.*|"
    "saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|"
    "met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|groet|mvg|"
    "hartelijke groet|bedankt|"
    "cumprimentos|com os melhores cumprimentos|atenciosamente|obrigado|obrigada|"
    "lugupidamisega|parimat|tervitades|aitäh|"
    "pozdrawiam|z poważaniem|dziękuję|"
    "med vänlig hälsning|vänliga hälsningar|hälsningar|mvh|tack|"
    "med venlig hilsen|venlig hilsen|med vennlig hilsen|hilsen|"
    "ystävällisin terveisin|terveisin|kiitos"
)
_CAPITALISED = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"  # a capitalised word, an initial or abbreviation too
_NAME = r"[A-ZÀ-ÖØ-Þ][\w'’-]*"
# The closing's words in any case; the name after it capitalised ("Thanks for that" goes on).
_CLOSING_LINE = re.compile(
    rf"^(?i:{_CLOSINGS})\s*[,.!;:]*(?:\s*[,\-–—]?\s*{_CAPITALISED}(?:\s+{_CAPITALISED}){{0,3}})?"
    r"\s*[,.!]*$"
)
_SENT_FROM = re.compile(
    r"^(?:sent from my|sent from|get outlook for|inviato da|inviato dal mio|"
    r"von meinem .* gesendet|gesendet von|envoyé de mon|envoyé depuis|enviado desde|"
    r"verzonden vanaf|verstuurd vanaf|skickat från|sendt fra)\b",
    re.IGNORECASE,
)
_CONTACT_LABEL = re.compile(
    r"^(?:tel|tel\.|telefono|telephone|téléphone|telefon|phone|mobile|mob|mobil|cell|cellulare|"
    r"cel|fax|e-?mail|mail|www\.|web|skype|whatsapp|indirizzo|address|adresse|dirección)\b",
    re.IGNORECASE,
)
_NAME_LINE = re.compile(rf"^(?:{_CAPITALISED}\s*){{1,4}}$")
_SIGNED_LINE_END = re.compile(
    rf"(?:\s+[-–—~]\s*|(?<=[.!?])\s+(?i:{_CLOSINGS})\s*[,.!]*\s*)"
    rf"(?:{_CAPITALISED}(?:\s+{_CAPITALISED}){{0,3}})?\s*[.!]*$"
)
_SIGNATURE_TAIL = 15  # a closing this near the end starts the signature block


def strip_quoted_reply(text: str) -> str:
    """A message's own words: the quoted message it answers, and everything below it, go."""
    kept = []
    for line in (text or "").splitlines():
        if _QUOTE_HEADER.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def _contact_line(line: str, region: str | None) -> bool:
    """A line of a contact block: labelled, or little else but an address, e-mail or phone."""
    if _CONTACT_LABEL.match(line):
        return True
    rest = _POSTCODE.sub(" ", _ADDRESSES.sub(" ", _EMAIL.sub(" ", line)))
    rest = _replace_spans(rest, _phone_spans(rest, region), " ")
    return rest != line and len(rest.split()) <= 3


def strip_signature(text: str, *, region: str | None = None) -> str:
    """The text without its signature block: from `-- `, a closing, or a trailing contact block."""
    lines = (text or "").rstrip().splitlines()
    for index, line in enumerate(lines[1:], start=1):
        stripped = line.strip()
        near_end = len(lines) - index <= _SIGNATURE_TAIL
        if (
            stripped in ("--", "—", "__")
            or _SENT_FROM.match(stripped)
            or (near_end and _CLOSING_LINE.match(stripped))
        ):
            lines = lines[:index]
            break
    # A block of contact lines or names at the very end, without a closing before it.
    while len(lines) > 1:
        last = lines[-1].strip()
        if not last or _NAME_LINE.match(last) or _contact_line(last, region):
            lines.pop()
            continue
        break
    text = "\n".join(lines).rstrip()
    # A message that signs on its last line: "... at Via Roma 5 - Anna", "... Regards, Anna".
    return _SIGNED_LINE_END.sub("", text).rstrip()


# --- E-mail addresses, phone numbers, postal addresses ----------------------------------------

# Each starts where a run of the characters starts and is bounded, so that a long text without
# any (4,000 letters, say) is read in one pass, not once from every letter.
_LOCAL = r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]{1,64}"
_EMAIL = re.compile(rf"{_LOCAL}@[\w-]{{1,63}}(?:\.[\w-]{{1,63}}){{1,8}}")


def _spelled(words: str, spaced: str) -> str:
    # "[at]", "(dot)", "{at}" and, between spaces, "at" / "dot" spelled out.
    return rf"(?:\s*[\[({{<]\s*(?:{words})\s*[\])}}>]\s*|\s+(?:{spaced})\s+)"


_SPELLED_AT = _spelled("at|@|chiocciola|ät", "at|chiocciola")
_SPELLED_DOT = rf"(?:{_spelled(r'dot|punto|point|punkt|[.]', 'dot|punto')}|[.])"
_SPELLED_EMAIL = re.compile(
    rf"{_LOCAL}{_SPELLED_AT}[\w-]{{1,63}}(?:{_SPELLED_DOT}[\w-]{{1,63}}){{0,6}}"
    rf"{_SPELLED_DOT}[a-z]{{2,24}}\b",
    re.IGNORECASE,
)
# Digits joined by spaces, dots, dashes or brackets: a phone number in a format the node's
# region does not know (a visitor's), once it has eight digits or more.
_DIGIT_RUN = re.compile(r"(?<![\w+])(?:\+|00)?\(?\d[\d\s().\-]{6,22}\d(?!\w)")
_NOT_A_PHONE = re.compile(
    r"^(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,3}(?:[.,]\d{3})+)$"
)

# Street types that come before the name (Via Roma 5, Rue de Rivoli 12, Calle Mayor 5).
_STREET_FIRST = (
    r"via|viale|v\.le|piazza|p\.zza|p\.za|piazzale|p\.le|corso|c\.so|largo|vicolo|strada|"
    r"contrada|borgo|lungomare|lungotevere|salita|calle|c/|avenida|avda\.?|plaza|pza\.?|paseo|"
    r"carrer|rua|travessa|praça|rue|avenue|av\.|boulevard|bd|blvd|chemin|place|impasse|allée|"
    r"quai|cours|route|ulica|ul\.|aleja|al\.|náměstí|nám\.|ulice|utca|tér|bulevardul|calea|"
    r"odos|οδός"
)
# Street types written onto the name (Hauptstraße 5, Kerkstraat 12, Storgatan 5, Narva mnt 5).
_STREET_SUFFIX = (
    r"straße|strasse|str\.|gasse|weg|platz|allee|ring|damm|ufer|chaussee|straat|laan|gracht|"
    r"plein|kade|singel|dijk|gatan|gata|vägen|väg|gränd|torget|gade|vej|veien|gate|plass|katu|"
    r"tie|kuja|tee|mnt|maantee|puiestee|pst|tänav|iela|gatvė"
)
# Street types written as a word after the name, Baltic style (Narva mnt 5, Brīvības iela 1).
_STREET_AFTER_NAME = r"mnt|maantee|pst|puiestee|tee|tänav|iela|gatvė|g\."
# Street types that come after the name, English style (12 High Street).
_STREET_AFTER = (
    r"street|st\.?|road|rd\.?|avenue|ave\.?|lane|ln\.?|drive|crescent|terrace|gardens|grove|"
    r"mews|square|sq\.?|boulevard|blvd\.?|highway"
)
_HOUSE = (
    r"(?i:n\.?|nr\.?|no\.?|n°|num\.?|#)?\s*\d{1,5}(?:\s?(?i:[a-z])(?!\w))?"
    r"(?:\s*[/-]\s*\w{1,4})?(?!\w)"
)
# The words of a street's name: no sentence ends inside it ("Piazza Maggiore. Il 12 ...").
_NAME_WORD = r"(?:[\w'’-]+|\w{1,3}\.)"
_PARTICLES = r"(?i:de|du|des|la|le|les|d'|l'|del|della|dei|di|da|von|van|der|den|het)"
_ADDRESSES = re.compile(
    "|".join(
        (
            rf"\b(?i:{_STREET_FIRST})\s+(?:{_NAME_WORD}\s+){{0,5}}{_NAME_WORD},?\s*{_HOUSE}",
            rf"\b[\w'’-]*(?i:{_STREET_SUFFIX}),?\s*{_HOUSE}",
            rf"{_NAME}\s+(?i:{_STREET_AFTER_NAME})\s*{_HOUSE}",
            rf"\b\d{{1,5}}(?i:[a-z]|bis|ter)?,?\s+(?i:{_STREET_FIRST})\s+"
            rf"(?:{_PARTICLES}\s*)*{_CAPITALISED}(?:\s+{_CAPITALISED}){{0,3}}",
            rf"\b\d{{1,5}}(?i:[a-z])?,?\s+(?:{_NAME_WORD}\s+){{1,3}}(?i:{_STREET_AFTER})(?!\w)",
        )
    )
)
# A postcode with the place after it (40126 Bologna, 00-950 Warszawa, 1012 AB Amsterdam), or on
# its own where its shape says what it is (SW1A 1AA, 1012 AB): finer than a street, most of them.
_POSTCODE = re.compile(
    rf"\b(?:(?:\d{{5}}|\d{{4}}|\d{{2}}-\d{{3}}|\d{{3}}\s\d{{2}}|[A-Z]{{1,2}}-\d{{4,5}})"
    rf"\s+{_CAPITALISED}|\d{{4}}\s?[A-Z]{{2}}\b(?:\s+{_CAPITALISED})?"
    rf"|[A-Z]{{1,2}}\d[A-Z\d]?\s\d[A-Z]{{2}}\b)"
)
_NAMED = re.compile(
    r"\b(?i:my name is|i am|i'm|mi chiamo|sono|ich heiße|ich bin|je m'appelle|je suis|me llamo|"
    r"soy|mijn naam is|ik ben|jag heter|mitt navn er|minu nimi on)\s+"
    rf"({_NAME}(?:\s+{_NAME}){{0,2}})"
)
# How a letter greets or names a person: "Dear Anna Rossi", "Gentile sig.ra Rossi", "Herr Weber".
_GREETED = re.compile(
    r"\b(?i:dear|hi|hello|mr|mrs|ms|miss|dr|gentile|gentilissim[oa]|car[oa]|egregi[oa]|"
    r"spett\.?(?:le)?|sig|sig\.ra|sig\.na|signor[a]?|dott|dott\.ssa|sehr geehrte[rs]?|"
    r"liebe[rs]?|herr|frau|cher|chère|madame|monsieur|mme|m\.|estimad[oa]|querid[oa]|señor[a]?|"
    r"sr|sra|geachte|beste|heer|mevrouw|hej|tere|lugupeetud|härra|proua)\.?\s+"
    rf"({_NAME}(?:\s+{_NAME}){{0,2}})"
)
# Eurostat's country codes where the phone numbering plan's differ.
_REGIONS = {"EL": "GR", "UK": "GB"}


def phone_region(code: str | None) -> str | None:
    """The phone numbering region of a country code (Eurostat's or ISO's), or None."""
    code = (code or "").strip().upper()
    code = _REGIONS.get(code, code)
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def _phone_spans(text: str, region: str | None) -> list[tuple[int, int]]:
    spans = [
        (match.start, match.end)
        for match in phonenumbers.PhoneNumberMatcher(
            text, region or "ZZ", leniency=phonenumbers.Leniency.VALID
        )
    ]
    for match in _DIGIT_RUN.finditer(text):
        found = match.group().strip()
        if sum(c.isdigit() for c in found) >= 8 and not _NOT_A_PHONE.match(found):
            spans.append((match.start(), match.end()))
    return spans


def _replace_spans(text: str, spans: list[tuple[int, int]], mark: str) -> str:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + mark + text[end:]
    return text


_WORD = re.compile(r"[^\W\d_][\w'’]*")
_DIGIT_SPAN = re.compile(r"(?:\+|00)?\d[\d\s().\-/]{4,}\d")


@dataclass(frozen=True)
class _Known:
    """What the node knows of a person, as plain data to look for: name words, phone digits."""

    words: frozenset[str]  # casefolded words of the name and of the e-mail's local part
    numbers: tuple[str, ...]  # national significant numbers

    def sub(self, text: str) -> str:
        """The text with every known word and number marked."""
        if self.numbers:
            text = _DIGIT_SPAN.sub(
                lambda m: PHONE_MARK if self._number_in(m.group()) else m.group(), text
            )
        if self.words:
            text = _WORD.sub(
                lambda m: NAME_MARK if m.group().casefold() in self.words else m.group(), text
            )
        return text

    def found_in(self, text: str) -> bool:
        """Whether anything known of the person is in the text."""
        return any(self._number_in(m.group()) for m in _DIGIT_SPAN.finditer(text)) or any(
            m.group().casefold() in self.words for m in _WORD.finditer(text)
        )

    def _number_in(self, span: str) -> bool:
        digits = re.sub(r"\D", "", span)
        return any(number in digits for number in self.numbers)


@functools.lru_cache(maxsize=1024)
def _known(values: tuple[str | None, ...], region: str | None) -> _Known:
    # Plain words and digits rather than a pattern per person: a page of a thousand requests
    # would compile thousands of patterns.
    words: set[str] = set()
    numbers: list[str] = []
    for value in (v.strip() for v in values if v):
        if "@" in value:  # the address itself is an e-mail, and anna.rossi@ names Anna Rossi
            value = value.split("@", 1)[0]
        elif re.fullmatch(r"[\d\s+().\-/]{7,}", value):
            try:
                numbers.append(str(phonenumbers.parse(value, region).national_number))
            except phonenumbers.NumberParseException:
                numbers.append(re.sub(r"\D", "", value))
            continue
        words |= {w.casefold() for w in _WORD.findall(value) if len(w) >= 2}
    return _Known(frozenset(words), tuple(n for n in numbers if len(n) >= 6))


def mentions(text: str | None, *, known: Iterable[str | None], region: str | None = None) -> bool:
    """Whether a text (a link, say, that cannot be cut) holds anything known of the person."""
    return _known(tuple(known), region).found_in(text or "")


def redact(text: str | None, *, known: Iterable[str | None] = (), region: str | None = None) -> str:
    """What may be shown to anyone of a text: no contact details, addresses or signatures.

    `known` holds what the node knows of the person the text is about (name, e-mail, phone);
    each of them is taken out wherever it appears. `region` reads phone numbers written without
    their country code (a two-letter code, e.g. "IT").
    """
    text = strip_signature(strip_quoted_reply(text or ""), region=region)
    text = _SPELLED_EMAIL.sub(EMAIL_MARK, _EMAIL.sub(EMAIL_MARK, text))
    # Names a text gives ("Dear Anna Rossi") and the person's own details go before the
    # patterns below cut them into pieces.
    for named in (_NAMED, _GREETED):
        text = named.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + NAME_MARK, text)
    text = _known(tuple(known), region).sub(text)
    text = _replace_spans(text, _phone_spans(text, region), PHONE_MARK)
    text = _ADDRESSES.sub(ADDRESS_MARK, text)
    text = _POSTCODE.sub(ADDRESS_MARK, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


# --- Street level ------------------------------------------------------------------------------

_UNIT = re.compile(
    r"^(?:flat|apt\.?|apartment|unit|suite|floor|interno|int\.|scala|sc\.|piano|p\.|étage|etage|"
    r"bâtiment|bat\.|appartement|appt\.?|stiege|stock|tür|top|wohnung|whg\.?|piso|puerta|"
    r"escalera|esc\.|c/o|presso|att\.?|attn\.?|z\.\s?hd\.?|bus|boîte|postbus|box|p\.?o\.?\s?box)"
    r"(?:\s|$|\d)",
    re.IGNORECASE,
)
_STREET_WORD = re.compile(
    rf"(?:^|\s)(?:{_STREET_FIRST})(?:\s|$)|(?:{_STREET_SUFFIX})(?:\s|$)"
    rf"|\s(?:{_STREET_AFTER})$",
    re.IGNORECASE,
)
_MONTHS = (
    r"gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|"
    r"dicembre|janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|"
    r"décembre|januar|februar|märz|april|juni|juli|august|september|oktober|dezember|enero|"
    r"febrero|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|january|"
    r"february|march|may|june|july|october|december|mei|augustus|maart"
)
_ROMAN = re.compile(r"[IVX]{1,5}")
_NUMBER_WORD = re.compile(r"^(?:n\.?|nr\.?|no\.?|n°|num\.?|#|civico|nummer|numéro|número)$", re.I)


def _without_numbers(part: str) -> str:
    """A street's name without its house number: a number stays only as part of a date name."""
    words = part.split()
    kept = []
    for index, word in enumerate(words):
        if not any(c.isdigit() for c in word):
            if not _NUMBER_WORD.match(word):
                kept.append(word)
            continue
        # Via 2 Agosto 1980, Rue du 4 Septembre, Straße des 17. Juni: the number names a day.
        before = words[index - 1] if index else ""
        after = words[index + 1] if index + 1 < len(words) else ""
        if (re.fullmatch(r"\d{1,2}\.?", word) and re.fullmatch(_MONTHS, after, re.I)) or (
            re.fullmatch(r"\d{4}", word) and re.fullmatch(_MONTHS, before, re.I)
        ):
            kept.append(word)
    while kept and _ROMAN.fullmatch(kept[-1]):  # a floor (Kerkstraat 12 III)
        kept.pop()
    return " ".join(kept).strip(" ,.;:-/")


def street_of(address: str | None, *, known: Iterable[str | None] = ()) -> str | None:
    """The street an address names, without house number, flat, postcode or city; or None.

    Only a part that names a street (a street type, or a name next to a house number) is kept;
    an address that names none (a landmark, a person) gives None rather than a guess.
    """
    parts = [p.strip() for p in re.split(r"[,;\n]", address or "") if p.strip()]
    parts = [p for p in parts if not _UNIT.match(p) and re.search(r"[^\W\d_]", p)]
    chosen = next((p for p in parts if _STREET_WORD.search(p)), None)
    if chosen is None:
        chosen = next(
            (p for p in parts if re.search(r"\d", p) and not _POSTCODE.fullmatch(p)), None
        )
    if chosen is None:
        return None
    street = _without_numbers(_POSTCODE.sub("", chosen))
    street = _known(tuple(known), None).sub(street)
    street = re.sub(r"\s{2,}", " ", street).strip()
    return street[:100] if re.search(r"[^\W\d_]", street) else None
