"""E-mails as real mail programs write them, for the e-mail channel's tests: Outlook and Gmail
replies with their quotes and signatures, an Italian reply, an iPhone's new message with a
pasted photo, a forwarded message, a wrongly declared charset, an out-of-office reply and a
delivery status notification. Each builder returns the raw bytes an MTA would hand over."""

import base64

CITY = "comune.bologna.it"
ADDRESS = f"rifiuti@{CITY}"
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"


def _crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode("utf-8") + b"\r\n"


def _b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


SIGNATURE_NAME = "Anna Bianchi"
SIGNATURE_STREET = "Via Mascarella 12"
SIGNATURE_PHONE = "+39 333 123 4567"


def outlook_reply(*, sender: str, in_reply_to: str, subject: str) -> bytes:
    """Outlook for Windows answering the node's message: only In-Reply-To and References name
    it, the subject lost its code, and the city's message is quoted under a header block."""
    return _crlf(
        f"""
Received: from EUR05-AM6.outbound.protection.outlook.com (mail-am6eur05on2070.outbound
 .protection.outlook.com [40.107.22.70])
From: Anna Bianchi <{sender}>
To: "Comune di Bologna" <{ADDRESS}>
Subject: RE: {subject}
Date: Tue, 4 Mar 2025 09:01:12 +0000
Message-ID: <AM6PR05MB6120A1B2C3D4E5F6@AM6PR05MB6120.eurprd05.prod.outlook.com>
In-Reply-To: {in_reply_to}
References: {in_reply_to}
Thread-Topic: {subject}
Thread-Index: AQHZbXy1c2F0dXJkYXk=
Content-Language: it-IT
X-MS-Has-Attach:
X-MS-TNEF-Correlator:
MIME-Version: 1.0
Content-Type: multipart/alternative;
\tboundary="_000_AM6PR05MB6120A1B2C3D4E5F6_"

--_000_AM6PR05MB6120A1B2C3D4E5F6_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

The sofa is still on the pavement and now it is raining on it.

Best regards
{SIGNATURE_NAME}
{SIGNATURE_STREET}
40126 Bologna
Tel. {SIGNATURE_PHONE}

________________________________
From: Comune di Bologna <no-reply@{CITY}>
Sent: Monday, March 3, 2025 10:12 AM
To: Anna Bianchi <{sender}>
Subject: {subject}

Hello,

We received your request.

--_000_AM6PR05MB6120A1B2C3D4E5F6_
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html><head><meta http-equiv=3D"Content-Type" content=3D"text/html; charset=
=3Diso-8859-1"></head><body><div>The sofa is still on the pavement and now =
it is raining on it.</div><div>Best regards<br>{SIGNATURE_NAME}</div><hr><div id=3D"div=
RplyFwdMsg"><b>From:</b> Comune di Bologna<br><b>Sent:</b> Monday</div></body></html>

--_000_AM6PR05MB6120A1B2C3D4E5F6_--
"""
    )


def gmail_reply(*, sender: str, references: str, subject: str) -> bytes:
    """Gmail answering: the attribution wrapped over two lines, a `-- ` signature."""
    return _crlf(
        f"""
MIME-Version: 1.0
Date: Tue, 4 Mar 2025 10:20:33 +0100
References: {references}
Message-ID: <CAF3xZq7u+Tb0=vQ9xk2n8e_kqD3Hc0Kf1@mail.gmail.com>
Subject: Re: {subject}
From: Marco Neri <{sender}>
To: {ADDRESS}
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f6"

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Thank you, I can be at home on Friday morning to open the courtyard gate.

--=20
Marco Neri
Via del Pratello 45, Bologna
+39 347 765 4321

On Mon, 3 Mar 2025 at 10:12, Comune di Bologna <no-reply@{CITY}>
wrote:

> Hello,
> We received your request.
>

--000000000000a1b2c3d4e5f6
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Thank you, I can be at home on Friday morning to open the =
courtyard gate.</div><br><div class=3D"gmail_quote"><div dir=3D"ltr" class=3D=
"gmail_attr">On Mon, 3 Mar 2025 at 10:12, Comune di Bologna wrote:<br></div>=
<blockquote class=3D"gmail_quote">Hello,</blockquote></div>

--000000000000a1b2c3d4e5f6--
"""
    )


def italian_reply(*, sender: str, subject: str) -> bytes:
    """An Italian reply from Libero webmail: the code in the subject, "ha scritto:", a closing
    with name, address, mobile and e-mail, in Latin-1."""
    body = f"""Buongiorno,
il divano è ancora lì, davanti al portone. Può passare anche sabato.

Cordiali saluti
Mario Rossi
Via dell'Indipendenza 8, 40121 Bologna
cell. 333 765 4321
{sender}

Il 03/03/2025 10:12, Comune di Bologna <no-reply@{CITY}> ha scritto:
> Buongiorno,
> abbiamo ricevuto la sua richiesta.
"""
    head = f"""From: "Mario Rossi" <{sender}>
To: {ADDRESS}
Subject: R: {subject}
Date: Tue, 04 Mar 2025 11:02:44 +0100
Message-ID: <1741082564.4711.libero@libero.it>
MIME-Version: 1.0
Content-Type: text/plain; charset=ISO-8859-1
Content-Transfer-Encoding: 8bit

"""
    return head.replace("\n", "\r\n").encode("ascii") + body.replace("\n", "\r\n").encode("latin-1")


def iphone_photo(*, sender: str) -> bytes:
    """iOS Mail: a new message with a photo pasted in (inline, no file name) and its footer."""
    return _crlf(
        f"""
From: Giulia Verdi <{sender}>
Content-Type: multipart/mixed; boundary="Apple-Mail-6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F"
Content-Transfer-Encoding: 7bit
Mime-Version: 1.0 (1.0)
Date: Tue, 4 Mar 2025 12:30:05 +0100
Subject: Frigorifero abbandonato
Message-Id: <6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F@icloud.com>
To: {ADDRESS}
X-Mailer: iPhone Mail (21D61)

--Apple-Mail-6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Un frigorifero abbandonato in via Zamboni angolo piazza Verdi, da luned=C3=
=AC.

--Apple-Mail-6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F
Content-Type: image/jpeg
Content-Disposition: inline
Content-Transfer-Encoding: base64
Content-Id: <B1C2D3E4-F5A6-4B7C-8D9E-0F1A2B3C4D5E>

{_b64(PHOTO)}
--Apple-Mail-6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 7bit



Sent from my iPhone
--Apple-Mail-6D2C8F4E-2B1A-4C3D-9E8F-1A2B3C4D5E6F--
"""
    )


def forwarded(*, sender: str) -> bytes:
    """Thunderbird forwarding a neighbour's message as an attachment (message/rfc822)."""
    return _crlf(
        f"""
From: Luca Gialli <{sender}>
To: {ADDRESS}
Subject: Fwd: mattress in the courtyard
Message-ID: <4f1e2d3c-b5a6-4978-8c9d-0e1f2a3b4c5d@example.net>
Date: Tue, 4 Mar 2025 14:00:00 +0100
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Type: multipart/mixed; boundary="------------fwd0123456789"

This is a multi-part message in MIME format.
--------------fwd0123456789
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

My neighbour wrote this to me: the mattress is still in our courtyard.

--------------fwd0123456789
Content-Type: message/rfc822; name="mattress in the courtyard.eml"
Content-Disposition: attachment; filename="mattress in the courtyard.eml"

From: Paola Blu <paola.blu@example.com>
To: Luca Gialli <{sender}>
Subject: mattress in the courtyard
Date: Mon, 3 Mar 2025 19:45:00 +0100
Message-ID: <neighbour-1@example.com>
Content-Type: text/plain; charset=UTF-8

Someone left a mattress by the bins in Via Fondazza 20. Can you ask the city?

--------------fwd0123456789--
"""
    )


WRONG_CHARSET_TEXT = (
    "Il cassonetto in via della Città è pieno da lunedì, perché nessuno passa? 20€ di multa."
)


def wrongly_declared(*, sender: str) -> bytes:
    """A web form that writes Windows-1252 and declares UTF-8."""
    head = f"""From: {sender}
To: {ADDRESS}
Subject: Cassonetto pieno
Message-ID: <form-8812@forms.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

"""
    return head.replace("\n", "\r\n").encode("ascii") + WRONG_CHARSET_TEXT.encode("cp1252")


def out_of_office(*, sender: str, in_reply_to: str | None, subject: str) -> bytes:
    """Exchange's automatic reply to a message the node sent (RFC 3834 headers)."""
    threading = f"In-Reply-To: {in_reply_to}\nReferences: {in_reply_to}\n" if in_reply_to else ""
    return _crlf(
        f"""
From: Anna Bianchi <{sender}>
To: no-reply@{CITY}
Subject: Automatic reply: {subject}
Date: Tue, 4 Mar 2025 09:00:01 +0000
Message-ID: <oof-7c3e@AM6PR05MB6120.eurprd05.prod.outlook.com>
{threading}Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: {sender}
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

I am out of the office until 10 March with no access to e-mail.
For urgent matters call +39 051 000 0000.
"""
    )


def bounce(*, original_id: str, recipient: str, subject: str) -> bytes:
    """Gmail's delivery status notification (RFC 3464) for a message the node sent."""
    return _crlf(
        f"""
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: no-reply@{CITY}
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
Message-ID: <67c5a1f2.050a0220.1b2c3d.0001.GMR@mx.google.com>
Date: Tue, 04 Mar 2025 01:02:03 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="00000000000012ab34cd56ef"; report-type=delivery-status

--00000000000012ab34cd56ef
Content-Type: text/plain; charset="UTF-8"

** Address not found **

Your message wasn't delivered to {recipient} because the address couldn't be found.

--00000000000012ab34cd56ef
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; mail.{CITY}
Arrival-Date: Tue, 04 Mar 2025 01:02:01 -0800 (PST)

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2a00:1450:400c:c0b::1a)
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.
Last-Attempt-Date: Tue, 04 Mar 2025 01:02:03 -0800 (PST)

--00000000000012ab34cd56ef
Content-Type: text/rfc822-headers

From: Comune di Bologna <no-reply@{CITY}>
To: {recipient}
Subject: {subject}
Message-ID: {original_id}
Date: Tue, 04 Mar 2025 10:02:00 +0100

--00000000000012ab34cd56ef--
"""
    )
