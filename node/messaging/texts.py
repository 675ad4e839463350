"""The words of SMS replies and notifications, in each language the node speaks.

They live here rather than in the portal's gettext catalogue because they leave the node as
plain text (SMS, e-mail) and are written for the receiver's language, not the reader's page.
They are read like a service's messages.toml (node/texts.py): a missing language or phrase falls
back to English.
"""

from typing import Any

from node.texts import Texts

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "sms_opened": "{city}: we received your {service} request. Tracking code {code}. "
        "Send STATUS {code} to follow it.",
        "sms_status": "{code} ({service}): {status}, updated {updated}.",
        "sms_status_reply": "{code} ({service}): {status}. {reply}",
        "sms_unknown_code": "{city}: no request with tracking code {code}.",
        "sms_stop": "{city}: you will get no more SMS from us. Send START to get them again.",
        "sms_start": "{city}: you will get SMS about your requests again. Send STOP to stop.",
        "sms_help": "{city}: send a keyword and your message to open a request: {keywords}. "
        "STATUS <code> to follow one. STOP to stop SMS.",
        "sms_help_no_keywords": "{city}: no service takes SMS requests now. "
        "STATUS <code> to follow a request. STOP to stop SMS.",
        "sms_needs_text": "{city}: send {keyword} followed by a few words about the problem.",
        "sms_refused": "{city}: we could not open the request: {reason}",
        "sms_how_one": "Reply with its number: {choices}.",
        "sms_how_several": "Reply with one or more numbers: {choices}.",
        "sms_how_number": "Reply with a number.",
        "sms_how_datetime": "Reply with a date, e.g. 31/05/2025 18:30.",
        "sms_how_words": "Reply in a few words.",
        "sms_skip": "Send SKIP to leave it out.",
        "sms_needed": "We need this answer to open your request.",
        "sms_waiting": "{city}: to open your {service} request, please answer:",
        "sms_thanks": "{city}: thank you.",
        "sms_complete": "{city}: thank you, request {code} is complete.",
        "sms_not_understood": "{city}: we did not understand that answer.",
        "sms_dropped": "{city}: your {service} request was not opened: a question it needs had "
        "no answer. Send {keyword} and your message to try again.",
        "sms_limited": "{city}: you sent us many messages in a short time, so we could not act "
        "on this one. Please try again in {minutes} min.",
        "receipt_subject": "Re: {subject} [{code}]",
        "receipt_subject_new": "[{code}] {service}: your request was received",
        "receipt_received": "We received your request ({service}) and gave it the tracking code "
        "{code}.",
        "receipt_reply": "To add something, reply to this message and keep {code} in the subject.",
        "subject": "[{code}] {service}: {what}",
        "greeting": "Hello,",
        "about": "This is about your request {code} ({service}).",
        "what_acknowledged": "your request was received",
        "what_resolved": "your request was resolved",
        "what_rejected": "your request was closed without action",
        "what_duplicate": "your request was closed as the same as request {original}, "
        "which the city is working on",
        "what_reopened": "your request was reopened and will be looked at again",
        "what_reply": "a reply from the city",
        "reply_intro": "The city writes:",
        "reason_intro": "Reason:",
        "follow": "Follow it with the tracking code {code}.",
        "signature": "{city} city services",
        "sms_notice": "{city} {code}: {what}.",
        "staff_alert_subject": "DANGER [{code}] {service}: someone may be in immediate danger",
        "staff_alert_intro": "A report to {service} in {city} says someone may be in immediate "
        "danger. It is yours to act on now: {code}.",
    },
    "it": {
        "sms_opened": "{city}: abbiamo ricevuto la tua segnalazione ({service}). Codice {code}. "
        "Invia STATUS {code} per seguirla.",
        "sms_status": "{code} ({service}): {status}, aggiornata il {updated}.",
        "sms_status_reply": "{code} ({service}): {status}. {reply}",
        "sms_unknown_code": "{city}: nessuna richiesta con codice {code}.",
        "sms_stop": "{city}: non riceverai più SMS da noi. Invia START per riceverli di nuovo.",
        "sms_start": "{city}: riceverai di nuovo SMS sulle tue richieste. Invia STOP per smettere.",
        "sms_help": "{city}: invia una parola chiave e il tuo messaggio per aprire una richiesta: "
        "{keywords}. STATUS <codice> per seguirla. STOP per non ricevere SMS.",
        "sms_help_no_keywords": "{city}: nessun servizio accetta richieste via SMS ora. "
        "STATUS <codice> per seguire una richiesta. STOP per non ricevere SMS.",
        "sms_needs_text": "{city}: invia {keyword} seguito da qualche parola sul problema.",
        "sms_refused": "{city}: non abbiamo potuto aprire la richiesta: {reason}",
        "sms_how_one": "Rispondi con il numero: {choices}.",
        "sms_how_several": "Rispondi con uno o più numeri: {choices}.",
        "sms_how_number": "Rispondi con un numero.",
        "sms_how_datetime": "Rispondi con una data, per esempio 31/05/2025 18:30.",
        "sms_how_words": "Rispondi con poche parole.",
        "sms_skip": "Invia SALTA per non rispondere.",
        "sms_needed": "Questa risposta serve per aprire la richiesta.",
        "sms_waiting": "{city}: per aprire la richiesta ({service}) rispondi:",
        "sms_thanks": "{city}: grazie.",
        "sms_complete": "{city}: grazie, la richiesta {code} è completa.",
        "sms_not_understood": "{city}: non abbiamo capito la risposta.",
        "sms_dropped": "{city}: la richiesta ({service}) non è stata aperta: una domanda "
        "necessaria è rimasta senza risposta. Invia {keyword} e il tuo messaggio per riprovare.",
        "sms_limited": "{city}: ci hai inviato molti messaggi in poco tempo e non abbiamo potuto "
        "dare seguito a questo. Riprova tra {minutes} min.",
        "receipt_subject": "Re: {subject} [{code}]",
        "receipt_subject_new": "[{code}] {service}: richiesta ricevuta",
        "receipt_received": "Abbiamo ricevuto la sua richiesta ({service}) con il codice {code}.",
        "receipt_reply": "Per aggiungere qualcosa risponda a questo messaggio lasciando {code} "
        "nell'oggetto.",
        "subject": "[{code}] {service}: {what}",
        "greeting": "Buongiorno,",
        "about": "Le scriviamo a proposito della sua richiesta {code} ({service}).",
        "what_acknowledged": "la richiesta è stata presa in carico",
        "what_resolved": "la richiesta è stata risolta",
        "what_rejected": "la richiesta è stata chiusa senza intervento",
        "what_duplicate": "la richiesta è stata chiusa perché uguale alla richiesta {original}, "
        "che il Comune sta già trattando",
        "what_reopened": "la richiesta è stata riaperta e sarà esaminata di nuovo",
        "what_reply": "una risposta del Comune",
        "reply_intro": "Il Comune scrive:",
        "reason_intro": "Motivo:",
        "follow": "Può seguirla con il codice {code}.",
        "signature": "Servizi del Comune di {city}",
        "sms_notice": "{city} {code}: {what}.",
        "staff_alert_subject": "PERICOLO [{code}] {service}: qualcuno può essere in pericolo",
        "staff_alert_intro": "Una segnalazione a {service} ({city}) dice che qualcuno può essere "
        "in pericolo immediato. Va trattata subito: {code}.",
    },
}

STATUS_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "new": "received",
        "acknowledged": "acknowledged",
        "in_progress": "in progress",
        "resolved": "resolved",
        "rejected": "closed without action",
        "duplicate": "closed as a duplicate",
    },
    "it": {
        "new": "ricevuta",
        "acknowledged": "presa in carico",
        "in_progress": "in lavorazione",
        "resolved": "risolta",
        "rejected": "chiusa senza intervento",
        "duplicate": "chiusa come duplicato",
    },
}


def language_of(language: str | None) -> str:
    """The language to write in: the one asked for when known, else English."""
    return language if language in TEXTS else "en"


NODE_TEXTS = Texts(tables=TEXTS, default_language="en", english=TEXTS["en"])


def say(key: str, language: str | None, **values: Any) -> str:
    """One phrase in a language, filled with the values."""
    return NODE_TEXTS.say(key, language, **values)


def status_word(status: str, language: str | None) -> str:
    """A case status in words."""
    return STATUS_WORDS[language_of(language)].get(status, status)
