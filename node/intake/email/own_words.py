"""A citizen's own words in an e-mail: what a case's description and a reply's text keep.

Mail programs put the message being answered under the reply ("On ... wrote:", `>` lines,
Outlook's "-----Original Message-----" or "From: ... Sent: ..." block, each in the writer's
language) and the writer's signature under their words (after `-- `, "Sent from my iPhone", or
a sign-off followed by a name, an address and a phone number). Both are left out here: the
quoted message is the city's own, and the signature is personal data that a description, which
may be published, must not carry. The archived raw message keeps everything.
"""

import re

import phonenumbers

_WROTE = re.compile(
    r"(wrote|writes|ha scritto|scrive|schrieb|a écrit|escribió|escreveu|schreef|napisał\(a\)|"
    r"napisał|napisała|kirjoitti|skrev|kirjutas|έγραψε|написа)\s*:\s*$",
    re.IGNORECASE,
)
# How an attribution line begins, when a mail program wraps it over lines.
_ON = re.compile(r"^(on|il|il giorno|am|le|el|op|em|w dniu|dnia|den|kello|dne)\b", re.IGNORECASE)
_DIVIDER = re.compile(
    r"^[-_=*\s]*(original message|messaggio originale|ursprüngliche nachricht|"
    r"message d'origine|message original|mensaje original|mensagem original|"
    r"oorspronkelijk bericht|oryginalna wiadomość|wiadomość oryginalna|originalmeddelande|"
    r"alkuperäinen viesti|algne kiri|forwarded message|messaggio inoltrato|"
    r"weitergeleitete nachricht|message transféré|mensaje reenviado|mensagem encaminhada|"
    r"doorgestuurd bericht|begin forwarded message|inizio messaggio inoltrato)[-_=*:\s]*$",
    re.IGNORECASE,
)
# The dividers that introduce a forwarded message (not a reply's quote).
_FORWARD = re.compile(
    r"^[-_=*\s]*(forwarded message|messaggio inoltrato|weitergeleitete nachricht|"
    r"message transféré|mensaje reenviado|mensagem encaminhada|doorgestuurd bericht|"
    r"begin forwarded message|inizio messaggio inoltrato)[-_=*:\s]*$",
    re.IGNORECASE,
)
# Subjects of forwards: Fwd:, Fw:, I: (Italian Outlook), WG: (German), TR: (French), RV: and
# ENC: (Spanish, Portuguese), Doorst: (Dutch).
_FORWARD_SUBJECT = re.compile(r"^(fwd?|fw|i|inoltro|wg|tr|rv|enc|doorst)\s*:", re.IGNORECASE)
_HEADER_FROM = re.compile(
    r"^\W{0,2}(from|da|von|de|van|od|från|fra|lähettäjä|saatja|от|από)\W{0,2}\s*:\s*\S", re.I
)
_HEADER_NEXT = re.compile(
    r"^\W{0,2}(sent|date|to|cc|subject|inviato|data|a|oggetto|gesendet|datum|an|betreff|"
    r"envoyé|à|objet|enviado|fecha|para|asunto|verzonden|aan|onderwerp|wysłano|temat|do|"
    r"skickat|till|ämne|sendt|til|emne|lähetetty|aihe|saadetud|teema)\W{0,2}\s*:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*(_{8,}|-{8,})\s*$")
_MOBILE = re.compile(
    r"^(sent from|sent with|sent via|get outlook for|inviato da|inviato dal mio|inviato con|"
    r"von meinem|gesendet von|gesendet mit|envoyé de mon|envoyé depuis|enviado desde|"
    r"enviado do meu|enviado de mi|verzonden (vanaf|met) mijn|verstuurd vanaf|wysłane z|"
    r"skickat från|sendt fra)\b",
    re.IGNORECASE,
)
_CLOSINGS = (
    r"thanks|thank you|many thanks|thanks again|thanks in advance|cheers|regards|best regards|"
    r"kind regards|warm regards|best wishes|best|all the best|sincerely|yours sincerely|"
    r"yours faithfully|yours truly|yours|with thanks|"
    r"grazie|grazie mille|grazie in anticipo|grazie e cordiali saluti|saluti|cordiali saluti|"
    r"distinti saluti|un saluto|un cordiale saluto|cordialmente|buona giornata|a presto|"
    r"in attesa di riscontro|in attesa di un vostro riscontro|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|freundliche grüße|viele grüße|"
    r"beste grüße|liebe grüße|herzliche grüße|grüße|gruß|mfg|lg|danke|vielen dank|"
    r"cordialement|bien cordialement|bien à vous|salutations|merci|merci beaucoup|"
    r"saludos|un saludo|saludos cordiales|atentamente|gracias|muchas gracias|"
    r"met vriendelijke groet|met vriendelijke groeten|vriendelijke groet|groeten|mvg|bedankt|"
    r"cumprimentos|atenciosamente|obrigado|obrigada|pozdrawiam|z poważaniem|dziękuję|"
    r"med vänlig hälsning|vänliga hälsningar|hälsningar|tack|med venlig hilsen|hilsen|"
    r"ystävällisin terveisin|terveisin|kiitos|lugupidamisega|parimate soovidega|aitäh"
)
_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_CLOSING = re.compile(
    rf"^(?i:{_CLOSINGS})\s*[,.!;:-]*(\s*[,\-–—]?\s*{_WORD}(\s+{_WORD}){{0,3}})?\s*[.!]*$"
)
_NAME = re.compile(rf"^{_WORD}(\s+(?:{_WORD}|[a-z]{{1,3}}|&|\||-|–)){{0,5}}$")
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)+")
_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_LABEL = re.compile(
    r"^(tel|tel\.|telefono|tél|téléphone|telefon|phone|ph|mobile|mob|mobil|cell|cellulare|"
    r"cel|fax|e-?mail|mail|web|skype|whatsapp|pec|indirizzo|address|adresse|dirección)\b",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"(?<![\w+])(\+|00)?\(?\d[\d\s().\-/]{6,}\d(?!\w)")
# A line that is an address and nothing more: "Via Mascarella 12", "40126 Bologna (BO)".
_ADDRESS = re.compile(
    r"^((via|viale|piazza|p\.zza|corso|largo|vicolo|strada|calle|avenida|plaza|rue|avenue|"
    r"boulevard|place|chemin|ulica|ul\.)\s.*\d|[\w-]+(straße|strasse|str\.|gasse|weg|platz|"
    r"straat|laan|gatan|vej|gate|katu|tänav|iela|mnt)\s*\d.*|\d+\w?,?\s+[\w\s.-]+\s"
    r"(street|st\.?|road|rd\.?|lane|avenue|ave\.?)|([A-Z]{1,2}-)?\d{4,5}\s+[A-ZÀ-Þ][\w\s().-]*)$",
    re.IGNORECASE,
)
_SIGNATURE_LINES = 10  # a sign-off starts the signature only when this few lines follow it


def _quote_start(lines: list[str]) -> int | None:
    """Where the quoted message begins: its attribution line, a divider or a header block."""
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        if _DIVIDER.match(stripped):
            return index
        # "On Mon, 3 Mar 2025 at 10:12, City <no-reply@...> wrote:", wrapped over 3 lines at most.
        if _WROTE.search(stripped) and len(stripped) < 200:
            return index
        if _ON.match(stripped):
            for end in range(index + 1, min(index + 3, len(lines))):
                if not lines[end].strip():
                    break
                head = " ".join(part.strip() for part in lines[index : end + 1])
                if _WROTE.search(head):
                    return index
        if _RULE.match(stripped) and _HEADER_FROM.match(_next_text(lines, index)):
            return index
        if _HEADER_FROM.match(stripped) and any(
            _HEADER_NEXT.match(following.strip()) for following in lines[index + 1 : index + 4]
        ):
            return index
    return None


def _next_text(lines: list[str], index: int) -> str:
    return next((line.strip() for line in lines[index + 1 :] if line.strip()), "")


def _is_contact(line: str, region: str | None) -> bool:
    """A line that holds little else than a phone number, an e-mail or web address, a label."""
    if _LABEL.match(line):
        return True
    rest = _URL.sub(" ", _EMAIL.sub(" ", line))
    try:
        matches = list(phonenumbers.PhoneNumberMatcher(rest, region or "ZZ"))
    except Exception:  # a line phonenumbers cannot scan is no phone number
        matches = []
    for match in reversed(matches):
        rest = rest[: match.start] + " " + rest[match.end :]
    rest = _DIGITS.sub(" ", rest)
    return rest != line and len(re.findall(r"[^\W\d_]{2,}", rest)) <= 3


def _signature_line(line: str, region: str | None) -> bool:
    """A line a signature holds: short, and no sentence (a name, a title, an address...)."""
    return len(line) <= 80 and (len(line.split()) <= 6 or _is_contact(line, region))


def _signature_start(lines: list[str], region: str | None) -> int:
    """Where the signature begins (len(lines) when there is none)."""
    end = len(lines)
    for index, line in enumerate(lines):
        stripped = line.strip()
        if index and (stripped in ("--", "—", "-- ") or _MOBILE.match(stripped)):
            end = index
            break
    while end > 1 and not lines[end - 1].strip():
        end -= 1
    lines = lines[:end]
    for index in range(1, len(lines)):
        following = [line.strip() for line in lines[index + 1 :] if line.strip()]
        if (
            len(following) <= _SIGNATURE_LINES
            and _CLOSING.match(lines[index].strip())
            and all(_signature_line(line, region) for line in following)
        ):
            end = index
            break
    # A block of names, addresses and contacts at the very end, without a sign-off above it.
    index, contact = end, False
    while index > 1:
        line = lines[index - 1].strip()
        if not line:
            index -= 1
            continue
        if _is_contact(line, region):
            contact = True
        elif not (_NAME.match(line) or _ADDRESS.match(line)) or len(line) > 80:
            break
        index -= 1
    return index if contact else end


def own_words(text: str, *, region: str | None = None) -> str:
    """The text without the message it quotes and without the writer's signature."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    start = _quote_start(lines)
    if start is not None:
        lines = lines[:start]
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    while lines and not lines[-1].strip():
        lines.pop()
    lines = lines[: _signature_start(lines, region)]
    kept = "\n".join(line.rstrip() for line in lines).strip()
    return re.sub(r"\n{3,}", "\n\n", kept)


def forwarded_words(text: str, *, subject: str | None = None, region: str | None = None) -> str:
    """The words of a message forwarded in the text, without its header block, quotes and
    signature; empty when the text forwards nothing. A forward is a "Forwarded message"
    divider, or (Outlook's way) a subject marked as one above the forwarded header block."""
    lines = (text or "").replace("\r\n", "\n").split("\n")
    start = next((i for i, line in enumerate(lines) if _FORWARD.match(line.strip())), None)
    if start is None and subject and _FORWARD_SUBJECT.match(subject.strip()):
        start = _quote_start(lines)
    if start is None:
        return ""
    body = lines[start:]
    index = 0
    # The divider or rule, then the forwarded message's header block, up to a blank line.
    while index < len(body) and (
        not body[index].strip()
        or _FORWARD.match(body[index].strip())
        or _DIVIDER.match(body[index].strip())
        or _RULE.match(body[index])
    ):
        index += 1
    header = body[index].strip() if index < len(body) else ""
    if _HEADER_FROM.match(header) or _HEADER_NEXT.match(header):  # Thunderbird: Subject: first
        while index < len(body) and body[index].strip():
            index += 1
    else:
        return ""  # no header block: a quote, not a forwarded message
    return own_words("\n".join(body[index:]), region=region)
