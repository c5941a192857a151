"""A deterministic handoff detector that runs beside the intent classifier: a customer who asks for a person,
threatens, names a court, a lawyer or a regulator, disputes a payment or demands money back is handed to a person
whatever the classifier (an LLM that can be talked out of it) says. Either one suffices to hold the reply.

Patterns are regular expressions over the lower-cased text (ё → е), written for Russian inflection («менеджера»,
«менеджеру», «с менеджером»; «суд», «в суде», «судиться», «засужу») and for English. A few negations keep polite
phrases out («претензий нет», «менеджер не нужен»).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .reasons import Reason

HUMAN = "human"
LEGAL = "legal"
THREAT = "threat"
REFUND = "refund"
CHARGEBACK = "chargeback"

# Staff a customer asks for. «человек» alone is too common («на 4 человек»): it counts only in a request.
_STAFF = (r"менеджер\w*|оператор\w*|администратор\w*|админ[ауео]?\b|руководител\w*|руководств\w*|начальств\w*|"
          r"начальник\w*|директор\w*|консультант\w*|специалист\w*|сотрудник\w*|продавц\w*|продавец|"
          r"(?:жив\w+\s+)?человек\w*|жив\w+\s+(?:люд\w*|собеседник\w*)|люд(?:ей|ьми|ям)\b")
_ASK = (r"позов\w*|позв(?:ать|ите)|позови|пригласи\w*|подключи\w*|соедин\w*|переключ\w*|передай\w*|передать|"
        r"перевед\w*|перевест\w*|свяж\w*|связать\w*|дай\w*|нуж(?:ен|на|но|ны)|хочу|хотим|хотел\w*|требую|прошу|"
        r"поговор\w*|пообщат\w*|общат\w*|разговарива\w*")
# Words that may stand between the request and the person: «позовите, пожалуйста, живого человека».
_FILLER = (r"(?:\W+(?:меня|нас|мне|нам|пожалуйста|плиз|же|уже|срочно|живого|живой|живым|живому|настоящего|настоящий|"
           r"реального|кого-нибудь|кого-то|кого|хоть|какого-нибудь|вашего|вашему|вашим|ваш|старшего|старший|"
           r"главного|главный|с|со|к|на|до))*")
_NOT_A_BOT = r"(?![\w-])(?!\s*-?\s*(?:пылесос|мойщик|мойк|газонокосил|для\b))"

PATTERNS: list[tuple[str, re.Pattern]] = [
    (HUMAN, re.compile(rf"\b(?:{_ASK})\b{_FILLER}\W+(?:{_STAFF})")),
    (HUMAN, re.compile(r"\b(?:менеджер\w*|оператор\w*|администратор\w*|руководител\w*|начальств\w*|"
                       r"начальник\w*|жив\w+\s+человек\w*|с\s+человеком|живого\s+\w+)")),
    (HUMAN, re.compile(r"\b(?:перезвон\w*|позвоните\s+мне|наберите\s+меня|свяжитесь\s+со\s+мной)")),
    (HUMAN, re.compile(rf"\b(?:вы|ты|это|тут|здесь)\s+(?:\w+\s+)?(?:бот|робот|нейросет\w*|ии|ai|chatgpt|гпт){_NOT_A_BOT}|"
                       rf"\bс\s+(?:ботом|роботом){_NOT_A_BOT}|"
                       rf"\bне\s+(?:хочу|буду)\s+(?:\w+\s+)?(?:с\s+)?(?:бот|робот)\w*{_NOT_A_BOT}")),
    (HUMAN, re.compile(r"\b(?:(?:a|to|with)\s+human|human\s+(?:being|agent|operator|support)|real\s+person|live\s+(?:agent|person|chat|operator)|manager|supervisor|"
                       r"operator|(?:customer\s+)?(?:service\s+)?representative|someone\s+real|"
                       r"(?:speak|talk|chat)\s+(?:to|with)\s+(?:a\s+|an\s+|the\s+|your\s+)?(?:person|someone|"
                       r"somebody|agent|human|boss|staff)|are\s+you\s+a\s+(?:bot|robot|machine|ai)|call\s+me\s+back)\b")),
    (LEGAL, re.compile(r"\b(?:суд|суда|суду|судом|суде|суды|судов|судам|судами|судах|судебн\w*|засуж\w*|засуд\w*|"
                       r"отсуж\w*|отсуд\w*|суди(?:ться|тся|лся|лась|лись)|сужусь|судимся|иск|иска|иском|иске|"
                       r"исков\w*|прокурат\w*|прокурор\w*|роспотребнадзор\w*|потребнадзор\w*|рпн|юрист\w*|"
                       r"юридическ\w+\s+(?:отдел|служб|помощ|консультац)\w*|адвокат\w*|претензи\w*|защит\w*\s+прав\s+потребител\w*|зозпп|"
                       r"закон\w*\s+о\s+защите|полици\w*|мвд|заявлени\w*\s+в\s+(?:полици|прокурат|суд)\w*|фас|"
                       r"арбитраж\w*|омбудсмен\w*|lawyer\w*|attorney\w*|sue|suing|lawsuit\w*|courts?|"
                       r"legal\s+action|consumer\s+protection|police|ombudsman|small\s+claims)\b")),
    (THREAT, re.compile(r"\b(?:мошенни\w*|мошеннич\w*|обманщик\w*|жулик\w*|кидал\w*|кинули\s+(?:меня|нас)|лохотрон\w*|"
                        r"развод\w*\s+(?:на\s+деньги|людей|клиентов)|разводил\w*|угрож\w*|пожалеете|"
                        r"(?:напишу|оставлю|опубликую|выложу|расскажу|размещу)\s+(?:\w+\s+){0,3}?"
                        r"(?:отзыв\w*|везде|всем|в\s+сет\w*|в\s+интернет\w*|в\s+соцсет\w*|на\s+отзовик\w*)|"
                        r"scam\w*|fraud\w*|cheat\w*|rip\s*-?\s*off|report\s+you|bad\s+review|expose\s+you)\b")),
    (REFUND, re.compile(r"\b(?:верн\w*|возвра\w*|отда\w*|требую)\s+(?:\w+\s+){0,3}?(?:мои\s+|мне\s+|наши\s+)?"
                        r"(?:деньг\w*|денег|денежк\w*|средств\w*|оплат\w*|платеж\w*|сумм\w*|предоплат\w*)|"
                        r"\b(?:деньг\w*|денег|средств\w*)\s+(?:\w+\s+){0,2}?(?:верн\w*|назад|возвра\w*|обратно)|"
                        r"\bвозврат\w*\s+(?:\w+\s+)?(?:денег|средств|оплат\w*|платеж\w*)|"
                        r"\b(?:refund\w*|money\s+back|my\s+money|reimburs\w*)\b")),
    (CHARGEBACK, re.compile(r"\b(?:чарджб[эе]к\w*|чарджбек\w*|charge\s*-?\s*back\w*|"
                            r"(?:оспор\w*|опротест\w*|отозв\w*|отзов\w*|отмен\w*)\s+(?:\w+\s+){0,2}?"
                            r"(?:платеж\w*|оплат\w*|операци\w*|списани\w*|транзакци\w*|перевод\w*)|"
                            r"(?:через|в)\s+(?:свой\s+|мой\s+)?банк\w*\s+(?:\w+\s+){0,2}?(?:верн\w*|оспор\w*|"
                            r"отмен\w*|заблокир\w*)|dispute\s+(?:the\s+|this\s+|a\s+)?(?:charge|payment|"
                            r"transaction))")),
]

# Phrases that name a trigger only to say it is not wanted.
NEGATIONS = re.compile(
    r"\b(?:претензи\w*\s+(?:нет|никаких|не\s+имею)|без\s+претензи\w*|никаких\s+претензи\w*|не\s+имею\s+претензи\w*|"
    r"(?:менеджер\w*|оператор\w*|человек\w*)\s+не\s+(?:нуж\w*|надо|зови\w*)|"
    r"не\s+(?:нужно|надо|зовите|зови|нужен|нужна)\s+(?:\w+\s+)?(?:менеджер\w*|оператор\w*|человек\w*)|"
    r"без\s+(?:менеджер\w*|оператор\w*)|no\s+need\s+(?:for|to\s+call)\s+(?:a\s+)?(?:manager|human|person))")


@dataclass(frozen=True)
class HandoffSignal:
    kind: str  # human | legal | threat | refund | chargeback
    phrase: str  # the customer's own words that triggered it


def lowered(text: str) -> str:
    low = text.lower().replace("ё", "е")
    return low if len(low) == len(text) else "".join(ch.lower()[:1] or ch for ch in text).replace("ё", "е")


def detect(text: str) -> list[HandoffSignal]:
    """Every reason in `text` to hand the dialog to a person, one per kind, in the order above."""
    low = lowered(text)
    negated = [m.span() for m in NEGATIONS.finditer(low)]
    signals: dict[str, HandoffSignal] = {}
    for kind, pattern in PATTERNS:
        if kind in signals:
            continue
        for match in pattern.finditer(low):
            if any(a <= match.start() < b or a < match.end() <= b for a, b in negated):
                continue
            signals[kind] = HandoffSignal(kind, " ".join(text[match.start():match.end()].split()))
            break
    return list(signals.values())


_REASON_KEYS = {
    HUMAN: "safety.handoff.human",
    LEGAL: "safety.handoff.legal",
    THREAT: "safety.handoff.threat",
    REFUND: "safety.handoff.refund",
    CHARGEBACK: "safety.handoff.chargeback",
}


def reason(signal: HandoffSignal, locale: str | None = None) -> Reason:
    """What the card says: why the reply is held, quoting the customer (a code, put into the reader's words)."""
    return Reason(_REASON_KEYS[signal.kind], {"phrase": signal.phrase}, locale=locale)
