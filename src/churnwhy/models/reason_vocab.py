"""The vocabulary of leaving: text rewrites and the weighted cues of the English rule layer.

Written for how people explain leaving across industries (telecom, SaaS and apps, delivery and retail,
banking and insurance, utilities, streaming), and for the cancel-form codes exports carry instead of
words (`too_expensive`, `CANCEL_SURVEY_REASON_COST_RELATED`, `Customer.PriceIncrease`: split into words
before matching). Words are matched as lemmas with their inflections (`lemmas("charge")` matches
charge, charges, charged, charging), never as whole fixed sentences. The decisions, with examples, are in
docs/reasons.md; in short:

- what: charges, fees, bills, rates, interest, cost -> price; devices, data, speed, coverage, signal,
  network, features, quality, range, content -> product; support, staff, attitude, expertise, website,
  self-service, billing *errors*, waiting, delivery, e-mails -> experience; life events, privacy, terms -> other.
- why: a price, product or service complaint alone is the brand's failure (brand_failed); better_offer needs an
  alternative (a competitor, "switched", "found", "elsewhere", "another provider", a free tier); a life or
  business change is circumstance; "Other", "None of the above", plan changes and payment failures say no
  reason (unknown), and are never sent to the learned layer.
"""

from __future__ import annotations

from churnwhy.models.reason_taxonomy import UNKNOWN, Rule


def _forms(word: str) -> str:
    """A regex for one lemma and its regular inflections (plural/3rd person, past, -ing)."""
    head, _, last = word.rpartition(" ")
    head = head.replace(" ", r"\s+") + r"\s+" if head else ""
    if last.endswith("e") and not last.endswith(("ee", "ye")):
        tail = last[:-1] + "(?:e|es|ed|ing)"
    elif len(last) > 2 and last.endswith("y") and last[-2] not in "aeiou":
        tail = last[:-1] + "(?:y|ies|ied|ying)"
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        tail = last + "(?:|es|ed|ing)"
    else:
        tail = last + f"{last[-1]}?(?:|s|ed|ing)"
    return head + tail


def lemmas(*words: str) -> str:
    """Whole-word regex for any inflection of any of `words` ("charge" -> charge|charges|charged|charging)."""
    return r"\b(?:" + "|".join(_forms(w) for w in words) + r")\b"


# The `why` vote of a bare topic ("Pricing", "Network reliability", "Delivery"): enough alone to read
# brand_failed (0.45 / (0.45 + 0.4) > 0.5), too little to outvote a named alternative.
TOPIC_WHY = 0.45

# Applied before lower-casing: codes become words ("customerDidNotConsentToPriceIncrease",
# "CANCEL_SURVEY_REASON_COST_RELATED", "Customer.FoundBetterApp").
CODE_SPLITS: tuple[tuple[str, str], ...] = (
    (r"([a-z])([A-Z])", "$1 $2"),
    (r"([A-Z]+)([A-Z][a-z])", "$1 $2"),
    (r"_+", " "),
    (r"(\p{L})\.(\p{L})", "$1 $2"),
    # Prefixes of platform codes that say nothing about the reason.
    (r"(?i)\bcancel(?:l?ation)?\s+survey\s+reason\b|(?i)^\s*(?:customer|system)\s+(?:cancell?ed\s+)?", " "),
)

# (pattern, replacement), applied in order to the lower-cased text.
REWRITES: tuple[tuple[str, str], ...] = (
    (r"[\u2018\u2019`´']", ""),  # don't / don’t -> dont
    (r"&", " and "),
    (r"\bw/o\b", " without "),
    (r"\bw/", " with "),
    (r"\b(?:cust(?:omer)?\.?\s*serv(?:ice|ices)?|c/s|cs)\b", " customer service "),
    (r"\b(?:bc|b/c|bcz|bcoz|cuz|coz|cos|becuase|becasue|becouse)\b", " because "),
    (r"\b(?:2|to)\s+(expensive|much|pricey|pricy|slow|dear)\b", " too $1 "),
    (r"\bsw(?:i|u)tch(?:ed|ing)?\s+(?:2|too)\b", " switched to "),
    (r"\bu\b", " you "),
    (r"\bur\b", " your "),
    (r"\bno\s+longer\b", " nolonger "),
    (r"\b(?:for|at)\s+(?:the\s+)?same\s+(?:price|cost|money)\b", " sameprice "),
    # The service a telecom, cable or utility sells is its product: "internet service", "no service",
    # "service outage". "Customer service", "service provider" and "service dissatisfaction" stay experience.
    (
        r"\b(internet|cable|tv|phone|cell|cellular|mobile|broadband|wireless|wifi|fibre|fiber|network|data|streaming|"
        r"electric\w*|gas|power|water|landline|voice)\s+services?\b",
        " $1 connection ",
    ),
    (r"\b(?:no|loss\s+of|lost|losing|lose|interrupted|intermittent|spotty|patchy)\s+(?:internet\s+|cable\s+|tv\s+|phone\s+)?services?\b", " outage "),
    (r"\bservices?\s+(?:outages?|interruptions?|disruptions?|went\s+down|goes\s+down|is\s+down|was\s+down|keeps\s+dropping|cut\s+off)\b", " outage "),
    (r"\b(?:lack\s+of|no|provide|providing|availability\s+of)\s+services?\b|\bservices?\s+availability\b", " connection availability "),
    (
        r"\bservices?\s+(?:is\s+|was\s+|keeps\s+)?(?:not\s+working|non\W?working|stopped\s+working|keeps\s+(?:dropping|cutting\s+out))\b"
        r"|\bnon\W?working\s+services?\b",
        " connection notworking ",
    ),
    (r"\b(?:cant|cannot|couldnt|could\s+not|no|dont\s+see|there\s+is\s+no)\s+(?:think\s+of\s+|find\s+|see\s+)?(?:a\s+|an\s+|any\s+)?(?:better\s+)?alternatives?\b", " noalternative "),
    # "another service", "a different CRM product": the alternative, not a topic.
    (
        r"\b(?:another|other|different|alternative|new)\s+(?:\w+\s+)?(?:services?|products?|apps?|tools?|platforms?|websites?|sites?|"
        r"solutions?|software|providers?|suppliers?|companies|company|vendors?|options?|ones?)\b",
        " another provider ",
    ),
    (r"\bswitched\s+(?:services?|providers?|suppliers?|companies|carriers?|banks?|networks?)\b", " switched to another provider "),
    # Billed for what they never used or ordered is a billing error, not low usage: before the usage rewrites.
    (
        r"\b(?:charg(?:ed|ing)|bill(?:ed|ing)|invoic(?:ed|ing)|paying|pay|made\s+to\s+pay)\s+(?:me\s+|us\s+)?for\s+(?:\w+\s+){0,4}?"
        r"(?:i|we|they|that|which)\s+(?:never|didnt|did\s+not|dont|do\s+not|havent|had\s+not|hadnt)\s+"
        r"(?:use|used|order|ordered|want|wanted|request|requested|receive|received|get|got|sign\w*\s+up|agree\w*|authori[sz]\w*)\b",
        " billedwrongly ",
    ),
    # ... and so is being billed or chased for what they already returned, cancelled or paid.
    (
        r"\b(?:charg(?:ed|ing)|bill(?:ed|ing)|invoic(?:ed|ing)|collections?|collecting|chas(?:ed|ing)(?:\s+me)?)\s+(?:me\s+|us\s+)?for\s+"
        r"(?:\w+\s+){0,4}?(?:i|we)\s+(?:had\s+|have\s+)?(?:already\s+)?(?:returned|cancell?ed|sent\s+back|gave\s+back|paid(?:\s+off)?)\b",
        " billedwrongly ",
    ),
    # No competition is no alternative: a complaint about the brand, never a rival's pull.
    (r"\b(?:lack\s+of|no|little|without|zero)\s+(?:real\s+)?(?:competition|competitors?|choice\s+of\s+providers?)\b", " monopoly "),
    # "my money back" is a refund; "money" alone would read as price.
    (r"\b(?:my|our|the|his|her|their)\s+(?:\w+\s+)?(?:money|funds|deposit)\s+back\b", " refund "),
    # A hypothetical ("if convenience is a big factor, ...") names a topic nobody complained about.
    (r"\bif\s+(?:\w+\s+){1,2}(?:is|are|was|were)\s+(?:a\s+|an\s+|the\s+)?(?:\w+\s+)?(?:factor|priority|concern|consideration|issue\s+for\s+you)\b", " hypothetical "),
    # "not the quality I expected", "wasn't what we expected": the thing fell short.
    (r"\b(?:not|isnt|wasnt|arent|werent)\s+(?:the|what|as)\s+(?:\w+\s+){0,4}?(?:i|we)\s+(?:had\s+)?(?:expected|hoped\s+for|wanted|needed|paid\s+for)\b", " notasexpected "),
    # The brand no longer sells it: the product, not a refusal to serve.
    (r"\b(?:(?:dont|do\s+not|doesnt|does\s+not|nolonger|stopped|wont|will\s+not|no\s+more)\s+(?:sell|offer|carry|stock|provide|make)\w*|"
     r"(?:not|nolonger)\s+(?:sold|offered|available|carried|stocked))\b(?:\s+(?:it|them|this|that|those|these|the\s+\w+))?(?:\s+any\s*more)?", " discontinued "),
    # Declined or rejected transactions and cards are how the brand handled them (experience), not a product decline.
    (r"\b(?:declined|rejected|denied|blocked|reversed)\s+(?:\w+\s+){0,2}?(?:transactions?|payments?|cards?|checks?|cheques?|deposits?|transfers?|purchases?)\b", " paymentrefused "),
    # Consumption that stopped ("not cooking them", "stopped watching"): low usage, like "not using it".
    (
        r"\b(?:not|never|barely|hardly|rarely|stopped|dont|didnt|wasnt|werent|quit)\s+(?:really\s+|actually\s+|even\s+)?"
        r"(?:cook|cooking|cooked|eat|eating|watch|watching|watched|read|reading|listen|listening|play|playing|wear|wearing)\b|\b(?:boxes|meals|orders|issues|magazines)\s+(?:\w+\s+)?piled\s+up|\bpiling\s+up|"
        r"\bgoing\s+to\s+waste|\bwent\s+to\s+waste|\bsat\s+(?:there\s+)?unused",
        " lowusage ",
    ),
    # Low usage, before negation rewrites eat the "not".
    (
        r"\b(?:(?:not|dont|didnt|did\s+not|do\s+not|isnt|arent|wasnt)\s+(?:\w+\s+){0,4}?(?:using|use|used)\s+(?:it\s+|this\s+|the\s+\w+\s+|this\s+\w+\s+)?"
        r"(?:enough|much|often|frequently|anymore|any\s+more)|(?:not|low)\s+enough\s+usage|low\s+usage|usage\s+(?:is\s+|was\s+)?(?:too\s+)?low)\b",
        " lowusage ",
    ),
    (r"\bnot\s+something\s+(?:i|we)\s+(?:plan|want|need|intend)\w*", " noneed "),
    (r"\b(?:not|isnt|arent|wasnt|werent)\s+(?:very\s+|really\s+)?(?:user\W?friendly|intuitive|easy\s+to\s+use)\b", " hardtouse "),
    (r"\b(?:not|isnt|arent|wasnt)\s+(?:very\s+|really\s+)?(?:useful|valuable|helpful\s+enough)(?:\s+enough)?\b", " notuseful "),
    (r"\b(?:not|isnt|wasnt)\s+worth\s+(?:it|the\s+(?:price|money|cost|fee))\b", " notworth "),
    (r"\b(?:problem|issue)s?\s+(?:was\s+|is\s+)?(?:not|never)\s+(?:solved|resolved|fixed)\b", " unsolved "),
    (r"\b(?:isnt|is\s+not|not)\s+(?:getting|gaining)\s+(?:any\s+)?traction\b", " notraction "),
    (r"\b(?:is|was)\s+not\s+ready\b", " notready "),
    (r"\b(?:could|can|cannot|cant|couldnt|unable\s+to)\s*(?:not\s+)?(?:log|sign)\s*(?:in|on)(?:to)?\b", " cantlogin "),
    # The brand changed, not the customer: "they moved to using AI", "you switched to a new courier".
    (r"\b(?:they|you|it|the\s+company|the\s+app|the\s+service)\s+(?:have\s+|has\s+|had\s+)?(?:moved|switched|changed|migrated)\s+to\b", " they altered "),
    (r"\b(?:when|since|after|before)\s+(?:i|we)\s+(?:first\s+)?(?:joined|signed\s+up|started|subscribed)\b", " at the start "),
    (r"\bthan\s+(?:i|we|before|when|last|expected|it|they|usual|ever|what|advertised|promised|agreed|quoted|needed|necessary|at|the|in|a|an|my|our|this|that|anyone|anything|ever|normal|average|double|twice|\d+\w*)\b", " than_expected "),
    # "moved to a new city" is a move, not a switch: keep "moved to" for switching brands.
    (
        r"\b(?:moved|moving|move|relocated)\s+(?:to\s+)?(?:(?:a|another|the|new|different|other)\s+){0,3}"
        r"(house|home|city|town|country|state|area|flat|apartment|region|abroad|overseas|away|uni|university)\b",
        " relocated $1 ",
    ),
    (r"\b(?:dont|do not|doesnt|does not|didnt|did not|no)\s+(?:really\s+)?need\b", " noneed "),
    (r"\b(?:not|never|barely|hardly|rarely|dont|didnt|wasnt|werent|isnt)\s+(?:really\s+|going\s+to\s+be\s+|actually\s+)?(?:using|use|used)\b", " notusing "),
    (r"\bcould\s+(?:have\s+)?be(?:en)?\s+better\b", " couldbebetter "),
    # "should be faster", "wish it was easier": a wish about us, not praise of someone else.
    (
        r"\b(?:should|could|needs?\s+to|ought\s+to|used\s+to|wish\s+(?:it|you|they)\s+(?:was|were|would))\s+(?:be\s+)?"
        r"(?:a\s+lot\s+|much\s+|way\s+)?(faster|quicker|easier|smoother|simpler|cheaper|better)\b",
        " couldbebetter ",
    ),
    (r"\bnot\s+(?:very\s+)?(?:reliable|dependable)\b", " unreliable "),
    (r"\bnot\s+(?:very\s+)?helpful\b", " unhelpful "),
    (r"\bnot\s+(?:on|in)\s+time\b", " late "),
    (r"\bnot\s+(?:working|work|workin)\b", " notworking "),
    (r"\b(?:no\s*one|nobody)\b", " noone "),
    # "you have no options for vegans": a lack, not another brand's offer.
    (r"\b(?:has|have|had|offers?|offered)\s+(?:no|zero|few|fewer|limited|hardly\s+any)\b", " lacks "),
    # "promised a lower rate", "quoted a better price": the brand's own promise, broken; not a rival's offer.
    (r"\b(?:promised|quoted|told|guaranteed|assured|advertised)\s+(?:me\s+|us\s+)?(?:a\s+|an\s+|the\s+)?(lower|better|cheaper|reduced|special|discounted|fixed|locked)\b",
     " brokenpromise $1_ "),
    # "in terms of price": a phrase, not the brand's terms.
    (r"\bin\s+terms\s+of\b", " regarding "),
    # "tried calling", "tried to cancel": an attempt, not trying another brand.
    (r"\b(?:tried|trying|try)\s+(?:to|calling|contacting|reaching|emailing|getting|everything|again|several|many|multiple|\d+)\b", " attempted "),
    # Negation: the first content word after the negator is neutralised.
    (
        r"\b(?:not|wasnt|isnt|werent|arent|nothing\s+to\s+do\s+with|nothing\s+wrong\s+with|"
        r"no\s+(?:issues?|problems?|complaints?)\s+(?:with|about)|never\s+had\s+(?:an?\s+|any\s+)?(?:issues?|problems?)\s+with)"
        r"\s+(?:(?:because|of|due|to|about|with|the|a|an|my|your|their|our|really|just|so|much|that|over|for|any|bad)\s+){0,4}(\w+)",
        " neg_$1 ",
    ),
    # Praise neutralises its object: "happy with the service but ..."
    (
        r"\b(?:happy|satisfied|pleased|content|loved|liked|enjoyed|fine|ok)\s+(?:with\s+)?(?:the\s+|your\s+|my\s+)(\w+)",
        " neg_$1 ",
    ),
    (
        r"\b(price|prices|pricing|service|support|delivery|deliveries|product|products|quality|app|staff|food|website|cost)"
        r"\s+(?:was|were|is|are|has\s+been|have\s+been)\s+(?:always\s+|really\s+|very\s+)?"
        r"(?:fine|ok|okay|good|great|reasonable|decent|fair|excellent|amazing|brilliant|alright)\b",
        " neg_$1 ",
    ),
    (r"\s+", " "),
)

# Answers that say no reason: counted as `non_answer`, never classified or learned from.
NON_ANSWER = (
    r"^\W*(?:n\W?a|none|nothing|no|nope|nah|no\s+reason|other|others|other\s+reasons?|misc\w*|idk|i\s+dont\s+know|"
    r"dont\s+know|do\s+not\s+know|not\s+sure|unsure|no\s+comments?|just\s+because|because|why|test|"
    r"(?:i\s+)?(?:would\s+)?(?:prefer|rather)\s+not\s+(?:to\s+)?(?:say|answer|tell|share)|declined?|x+|"
    r"(?:an|some)?other(?:\s+reasons?)?\W*(?:please\s+)?(?:specify|explain|share|comment|tell\s+us)(?:\s+(?:below|above|here))?|"
    r"(?:another|some\s+other|a\s+different)\s+reason|something\s+else|none\s+of\s+(?:the\s+)?(?:above|these|those)|"
    r"(?:my\s+)?reason\s+(?:is\s*nt|isnt|is\s+not|was\s+not)\s+(?:listed|here|above)\b.*|"
    r"(?:other\s+)?reasons?\s+not\s+listed(?:\s+above|\s+here)?|"
    r"i\s+(?:do\s+not|dont)\s+want\s+to\s+(?:give|provide|share|say)\b.*)\W*$"
)

_PRICE = lemmas(
    "price", "pricing", "cost", "fee", "bill", "rate", "tariff", "premium", "surcharge", "overage",
    "interest", "apr", "penalty", "budget", "afford", "affordability", "subscription fee", "monthly payment",
) + (
    r"|\b(?:charges?|pric(?:ey|y)|exs?p[aei]?n?[cs]+i?ve?\w*|costly|overpriced|over\s+priced|dear|money|dollars?|pounds|quid|bucks|"
    r"value\s+for\s+money|too\s+high|affordable|unaffordable|pay\s+back|repay\w*)\b"
    r"|[£$€]\s?\d|\b\d+\s?(?:pm|p/m|/mo|/month|a month|per month|dollars|pounds|euros?)\b"
)
_WORSE = r"(?:increase\w*|rise|rises|rising|risen|hike\w*|went\s+up|go\s+up|goes\s+up|going\s+up|gone\s+up|doubled|jumped|kept\s+going\s+up|sky\s+high)"
# What an alternative can be better at: the cue's `what` decides the topic of a better_offer.
_PRODUCT_NOUNS = (
    r"products?|apps?|quality|selection|range|choice|coverage|features?|shows|content|podcasts?|music|films|movies|"
    r"recipes|integrations?|devices?|phones?|handsets?|equipment|data|speeds?|download\w*|upload\w*|signal|network|"
    r"channels?|plans?\s+features|storage|tools?|functionality|internet|broadband|connection|reception"
)

BUILTIN_RULES: tuple[Rule, ...] = (
    # --- no reason: payment failures, accidental purchases, unknown reasons (why and what unknown) ...
    Rule(
        r"\b(?:(?:purchase|bought|subscribed)\w*\s+(?:\w+\s+){0,2}(?:accidentally|by\s+mistake)|accident\w*|unspecified|"
        r"unknown\s+reasons?|reasons?\s+unknown|no\s+reason\s+given|(?:has\s+been|was)\s+deleted|"
        r"payment\s+(?:information|details|method)\s+(?:is\s+|was\s+)?(?:nolonger\s+valid|invalid|expired|out\s+of\s+date)|"
        r"card\s+(?:was\s+)?(?:declined|expired)|(?:expired|declined)\s+card|insufficient\s+funds|non\W?payment|not\s+paid|"
        r"payment\s+failed|failed\s+payment|issuer|authenticat\w*\s+failed|for\s+(?:other|another)\s+reasons?|auto\W?renewal|"
        r"without\s+transferring)\b",
        UNKNOWN, UNKNOWN, 3.5,
    ),
    # ... plan changes (not churn) ...
    Rule(
        r"\b(?:upgrad\w*|downgrad\w*|replaced|"
        r"(?:different|another|other|second)\s+(?:\w+\s+)?account)\b",
        UNKNOWN, UNKNOWN, 1.0,
    ),
    # ... and fraud by a third party, which blames neither the brand nor a life change.
    Rule(r"\b(?:fraud|frauds|fraudsters?|identity\s+theft|stole\s+my\s+identity|stolen\s+identity)\b", UNKNOWN, "other", 1.0),
    # --- better_offer: another brand (or a free tier, or doing it themselves) pulled them away
    Rule(
        r"\b(?:switch|switched|switching|swapped|swapping|swap|changed|changing|moved|moving|ported|porting|"
        r"jumped|jumping|migrated|migrating|transferred|transferring|defected|went\s+back|going\s+back|go\s+back|gone\s+back)\s+(?:over\s+|across\s+|back\s+)?(?:to|2)\b",
        "better_offer", None, 1.2,
    ),
    Rule(r"\b(?:left|leaving|leave)\s+(?:you\s+)?for\b|^ (?:switched|switching|switch|changed\s+provider|competitor) $", "better_offer", None, 1.2),
    Rule(r"\bdeals?\b", "better_offer", "price", 0.8),
    Rule(r"\b(?:\w+\s+)?missing\s+items?|\bitems?\s+(?:were\s+|was\s+)?missing|\bincomplete\s+orders?", "brand_failed", "experience", 1.5),
    Rule(r"\b(?:went|going|gone|go|signed\s+up|signed|joined|now|chose|choosing|picked|opted\s+for)\s+(?:with|to\s+join|using|on)\b", "better_offer", None, 1.2),
    Rule(r"\b(?:joined|chose|opted\s+for|signed\s+up\s+(?:with|for|to))\b", "better_offer", None, 1.0),
    Rule(r"\b(?:competitors?|competition|competing|rivals?|other\s+(?:providers|companies|carriers|banks|lenders))\b", "better_offer", None, 1.4),
    Rule(
        r"\b(?:elsewhere|alternatives?|(?:another|other|different|new|a\s+better|better)\s+(?:\w+\s+)?(?:provider|company|supplier|brand|bank|"
        r"carrier|service|network|vendor|platform|tool|app|product|solution|shop|store|retailer|option|firm|insurer|lender|crm|software|website|"
        r"site|energy\s+company|one)s?)\b",
        "better_offer", None, 1.2,
    ),
    Rule(
        r"\b(?:found|find|finding|using|use|uses|decided\s+to\s+use|prefer\w*|going\s+to\s+use|will\s+use)\s+(?:a\s+|an\s+|another\s+|something\s+|"
        r"some\s+other\s+)?(?:better|cheaper|different|other|else|free|alternative)\b|\bbuil[dt]\s+(?:it\s+|our\s+|my\s+)?(?:own|in.?house)\b"
        r"|\bdo(?:ing)?\s+it\s+(?:my|our)sel(?:f|ves)\b|\bin.?house\b",
        "better_offer", None, 1.3,
    ),
    Rule(r"\bfree\s+(?:tier|plan|version|account|option)\b|\bfree\s+is\s+(?:good|enough)\b", "better_offer", "price", 1.3),
    Rule(r"\b\w+\s+(?:offered|offers|gave|gives|had|has|made)\s+(?:me\s+|us\s+)?(?:a\s+|an\s+)?(?:better|cheaper|more|half|free|higher|faster|bigger|lower|\d)", "better_offer", None, 1.0),
    Rule(r"\b(?:better|cheaper|best|great|good|lower)\s+(?:deal|price|rate|tariff|value|terms|interest\s+rate)s?\b", "better_offer", "price", 1.2),
    Rule(r"\b(?:better|best|great|good|nicer)\s+(?:offer|plan|package|option|service)s?\b", "better_offer", None, 1.2),
    Rule(
        r"\b(?:better|best|nicer|bigger|wider|more|higher|faster|newer|larger)\s+(?:\w+\s+)?(?:" + _PRODUCT_NOUNS + r")\b"
        r"|\b(?:app|website|site|interface|product)\s+(?:is|was|are)\s+(?:just\s+|much\s+|way\s+|far\s+|so\s+much\s+)?(?:better|nicer|easier|faster)\b",
        "better_offer", "product", 1.2,
    ),
    Rule(r"\b(?:cheaper|cheapr|cheeper|less\s+expensive|lower\s+price|half\s+the\s+price|more\s+for\s+less|better\s+value)\b", None, "price", 0.8),
    Rule(r"\b(?:want|need|wanted|needed|looking\s+for|asked\s+for)\s+(?:a\s+)?(?:cheaper|lower|smaller|more\s+affordable)\b", "brand_failed", "price", 1.0),
    Rule(r"\b(?:cheaper|less\s+expensive)\s+(?:elsewhere|at|with|on|from|option|alternative|provider|one|deal|plan\s+elsewhere)\b|\bfound\s+(?:it\s+|one\s+)?cheaper", "better_offer", "price", 1.2),
    Rule(r"\b(?:instead|rather)\b", "better_offer", None, 0.8),
    # A comparison with someone else: "more than X charges", "compared to X", "X matched and beat your price".
    Rule(
        r"\b(?:compared\s+(?:to|with)|than\s+[a-z]\w*|(?:matched|beat|undercut)\s+(?:and\s+beat\s+)?(?:your|the|my|our)\s+(?:price|offer|quote|deal)|"
        r"(?:is|are|was|were)\s+(?:\w+\s+){1,4}(?:less|cheaper))\b|(?:^\s*|\b(?:i|we|just|so)\s+)(?:switched|switching)\b|\bswitched\s+for\b",
        "better_offer", None, 1.2,
    ),
    Rule(r"\b(?:has|have|had|offers?|gives?|got|includes?)\s+(?:a\s+)?(?:much\s+|way\s+|far\s+|lot\s+)?(?:more|bigger|better|wider|larger|nicer)\b", "better_offer", None, 1.0),
    Rule(r"\b(?:is|are|was|were|its|thats|theyre|just|much|way|far|so\s+much)\s+(?:better|nicer|faster|cheaper|easier|greener)\b", "better_offer", None, 1.0),
    # Getting the same thing elsewhere, or making it themselves: an alternative ("could get the same at X").
    Rule(r"\b(?:can|could|cn)\s+(?:just\s+)?(?:get|buy|find|make|cook|do|stream|watch)\s+(?:the\s+same|it|them|this|these|that|similar|most\s+of)\b"
         r"|\bwithin\s+walking\s+distance|\b(?:shops?|stores?|supermarkets?|grocer\w*)\s+(?:are\s+|is\s+)?(?:nearby|near\s+(?:me|us|by)|close\s+by|around\s+the\s+corner|down\s+the\s+road)",
         "better_offer", None, 1.3),
    Rule(r"\b(?:promo\w*|discount\w*|cash\s?back|introductory|\d+\s?%\s?off|free\s+(?:trial|months?|boxes?|installation))", "better_offer", "price", 0.8,
         why_weight=0.4),
    # Praise of how someone else does it ("X delivers faster", "returns are easier with X"): pulled away.
    Rule(
        r"\b(?:faster|quicker|easier|smoother|simpler|more\s+(?:reliable|flexible|convenient|helpful|responsive|choice|"
        r"variety|options|organic)|actually\s+(?:helpful|works|arrives|answers|cares)|never\s+has\s+(?:any\s+)?(?:problems?|issues?)|"
        r"within\s+minutes|for\s+free|lets\s+(?:me|us|you)|suits?\s+(?:me|us|my|our)|fits?\s+(?:me|us|my|our)|"
        r"(?:has|have|offers?)\s+(?:the\s+)?(?:\w+\s+)?(?:options?|brands?|choices?|variety|range))\b",
        "better_offer", None, 1.3,
    ),
    Rule(r"\b(?:tried|trying|testing)\s+\w+|\b(?:like|liked|love|loved|prefer|preferred)\s+(?:their|theirs|them)\b", "better_offer", None, 1.0),
    # The brand changed terms on its own: a price rise in all but name.
    Rule(
        r"\b(?:brokenpromise|without\s+(?:asking|notice|warning|telling|consent|permission)|silently|out\s+of\s+nowhere|sneak\w*|"
        r"auto\W?renew(?:ed|s)\b)",
        "brand_failed", None, 1.2,
    ),
    Rule(
        r"\b(?:bait\s+and\s+switch|(?:fraudulent|bogus|erroneous|improper|incorrect|unauthori[sz]ed|unfair)\s+(?:charges?|fees?|billing|bills?))\b|"
        r"\b(?:promo\w*|discount\w*|offer|deal|introductory)\s+(?:\w+\s+){0,2}(?:ended|expired|removed|stopped|withdrawn|"
        r"scrapped|gone|ran\s+out)\b|\bhigher\s+(?:price|rate|fee)|\b(?:new|extra|added|surprise|additional|unexpected|excessive|"
        r"long\s+distance|roaming|overage|late|data|hidden|junk|activation|cancell?ation|early\s+termination|termination|"
        r"installation|equipment|rental|service|maintenance|overdraft|monthly|annual|account)\s+(?:fees?|charges?|costs?|rates?)\b"
        r"|\bfees?\s+(?:appeared|added|introduced|showed\s+up)\b|\bnotworth\b",
        "brand_failed", "price", 1.5,
    ),
    # Privacy and data handling: the brand's failure, topic `other` (the taxonomy's decision; docs/reasons.md).
    Rule(
        r"\b(?:privacy|gdpr|my\s+(?:personal\s+)?(?:data|details|information)|personal\s+(?:data|details|information)|sold\s+my|"
        r"third\s+parties|data\s+(?:breach|leak|protection|sharing)|hack\w*)\b",
        "brand_failed", "other", 1.2, why_weight=TOPIC_WHY,
    ),
    # Advertising that misled: the brand's failure; what it misled about (speeds, the price) decides the topic,
    # and alone it is how the brand dealt with them (experience, weakly).
    Rule(r"\b(?:false(?:ly)?|misleading|deceptive|untrue|bogus)\s+(?:advertis\w*|ads?|claims?|marketing|promises?)|\bbait\s+and\s+switch\b",
         "brand_failed", "experience", 0.3, why_weight=1.2),
    # --- other: topics outside product, experience and price. Complaints about how the brand behaves
    # (terms, trust) are its failure; neutral topics (sustainability, perks) leave why open.
    Rule(
        r"\b(?:terms|contract|trust|upsell\w*|politic\w*|ethic\w*|monopol\w*|"
        r"treated\s+(?:like|as)|treat(?:ed|s|ing)?\s+(?:your|their|its)\s+(?:staff|drivers|workers|employees)|"
        r"(?:loyalty|rewards?)\s+(?:\w+\s+)?(?:was\s+|were\s+|got\s+)?(?:scrapped|cancell?ed|ended|removed|cut))\b",
        "brand_failed", "other", 1.2, why_weight=TOPIC_WHY,
    ),
    Rule(
        r"\b(?:sustainab\w*|eco|environment\w*|carbon|plastic|packaging|waste|charit\w*|donat\w*|local(?:ly)?|"
        r"farmers?|loyalty|rewards?|bundl\w*|employer|students?|perks?|values)\b",
        None, "other", 1.2,
    ),
    Rule(r"\b(?:family|partner|friends?|household)\b", None, "other", 0.6),
    # --- experience: contact and e-mail (frequency, unsolicited mail, upsell) is how the brand treats them
    Rule(
        r"\b(?:e\W?mails?|e\W?mailing|mailing\s+lists?|newsletters?|marketing|spam\w*|unsolicited|notifications?|alerts?|"
        r"too\s+(?:frequent\w*|often|many\s+(?:e\W?mails|messages|texts|calls))|stop\s+(?:emailing|texting|calling)|"
        r"never\s+signed\s+up|dont\s+remember\s+(?:ever\s+)?signing\s+up|harass\w*|robo\W?calls?|keeps?\s+calling|calling\s+me)\b",
        "brand_failed", "experience", 1.3,
    ),
    Rule(
        r"\b(?:returns?|exchanges?|chat|live\s+chat|slots?|experience|hassle|convenien\w*|tracking|"
        r"texts?\s+me|punctual|friendly|helpful|responsive|smooth\w*|self\W?service|expertise|knowledge\w*|"
        r"phone\s+support|online\s+support|tech(?:nical)?\s+support)\b",
        None, "experience", 0.9,
    ),
    # --- product vocabulary beyond quality and range
    Rule(
        r"\b(?:organic|brands|variety|options|flexib\w*|customi[sz]\w*|in\s+stock|out\s+of\s+stock|substitut\w*|"
        r"fresh(?:er|est|ness)?|vegan|vegetarian|gluten\W?free|the\s+same\s+every|plugins?|themes?|templates?|"
        r"(?:range|selection|choice|variety)\s+of\s+\w+|workflows?|adopt\w*|onboard\w*|train\w*\s+(?:users|staff|team))\b",
        "brand_failed", "product", 0.9, why_weight=TOPIC_WHY,
    ),
    Rule(
        r"\bfree\s+(?:delivery|shipping|postage)|\bfor\s+less\b|\bless\s+money|\bpay\s+less|\bsaves?\s+(?:me\s+)?money",
        "better_offer", "price", 1.2,
    ),
    # --- price: what=price; alone it is the brand's price that pushed them out (brand_failed)
    Rule(_PRICE, "brand_failed", "price", 0.7, why_weight=TOPIC_WHY),
    Rule(r"\b(?:too|very|so|really|way)\s+(?:expensive|pricey|pricy|dear|costly|high)\b|\bcost\s+related\b", "brand_failed", "price", 0.8),
    Rule(r"\b(?:cheap|cheaply)\s+(?:made|quality|materials?)\b|\bflimsy\b", "brand_failed", "product", 1.2),
    # Price rises and hidden fees are the brand's doing.
    Rule(
        r"\b(?:price|prices|pricing|bill|bills|cost|costs|fee|fees|subscription|tariff|rate|rates|premium|premiums|interest|"
        r"interest\s+rates?)\s+(?:\w+\s+){0,2}" + _WORSE
        + r"|\b(?:raised|raising|increased|increasing|hiked|hiking|upped|jacked|jack|doubled|tripled)\s+(?:up\s+)?(?:\w+\s+){0,2}(?:price|prices|pricing|bill|cost|fees?|charges?|rates?|interest)\b"
        + r"|\bpay(?:ing)?\s+(?:\S+\s+){0,2}more\b|\bput\s+(?:\w+\s+){0,2}prices?\s+up|\bhidden\s+(?:fees|charges|costs)|\bprice\s+(?:increase|rise|hike|change)",
        "brand_failed", "price", 1.5,
    ),
    # --- experience topics (a topic alone leans brand_failed: they name what went wrong)
    Rule(r"\b(?:deli\w*v\w*|delivry|shipping|shipment|shipped|courier|parcels?|packages?|drivers?|dispatch\w*)\b", "brand_failed", "experience", 0.8,
         why_weight=TOPIC_WHY),
    Rule(
        r"\b(?:customer\s+service|service|services|support|helpdesk|help\s+desk|call\s+cent(?:er|re)|agents?|advisors?|advisers?|"
        r"representatives?|reps?|staff|employees?|person|people|managers?|cashiers?|engineers?|technicians?|complain\w*|complaints?|"
        r"on\s+hold|appointments?|installation|communication|attitude|branch|branches|servic(?:er|ing))\b",
        "brand_failed", "experience", 0.8, why_weight=TOPIC_WHY,
    ),
    Rule(r"\b(?:app|apps|website|web\s*site|site|online|portal|login|log\s*in|logging\s+in|sign\s+in|password|checkout|check\s+out|interface|ui|ux)\b", "brand_failed", "experience", 0.6, why_weight=TOPIC_WHY),
    # Billing handling (errors, disputes, refunds) is experience; a bill's size is price (above).
    Rule(
        r"\b(?:billing\s+(?:errors?|mistakes?|issues?|problems?|disputes?)|wrong(?:ly)?\s+(?:billed|charged|bill)|"
        r"overcharg\w*|double\s+charg\w*|charged\s+(?:me\s+)?(?:twice|again|after|even|for\s+something)|still\s+(?:being\s+)?(?:charged|billed)|overbill\w*|billedwrongly|paymentrefused|auto\W?pay\w*|"
        r"refund\w*|direct\s+debit|dispute\w*|unauthori[sz]ed|invoic\w*|"
        r"(?:payments?|deposits?|withdrawals?|transfers?|transactions?|credits?|discounts?|rebates?|refunds?)\s+(?:\w+\s+){0,2}(?:not|neg_\w+|never|missing|lost|held|reversed|delayed|pending|difficult|failed|declined|applied)|"
        r"(?:holding|held|froze|frozen|freez\w*)\s+(?:my\s+)?(?:funds|money|account|payment)|"
        r"(?:closed|closing|close|froze|frozen|cancell?ed|cancell?ing|suspended|terminated)\s+(?:my|our|the)\s+(?:\w+\s+)?accounts?|accounts?\s+(?:was\s+|were\s+|got\s+|been\s+)?(?:closed|frozen|locked|suspended|cancell?ed|terminated))\b",
        "brand_failed", "experience", 1.2,
    ),
    Rule(
        lemmas("account", "payment", "deposit", "withdrawal", "transfer", "transaction", "claim", "call", "letter",
               "report", "contact", "respond", "response", "told", "said", "fraud", "escrow", "loan servicer", "modification",
               "lawyer", "process", "paperwork", "document", "statement"),
        "brand_failed", "experience", 0.35,
    ),
    # --- experience failures
    Rule(
        r"\b(?:late|delayed|delays?|never\s+(?:arrived|came|turned\s+up|showed|delivered)|didnt\s+(?:arrive|come|turn\s+up|show)|"
        r"arrived\s+(?:late|damaged|broken|open|wrong)|damaged|wrong\s+(?:item|order|size|address)|no\s*show|"
        r"lost\s+(?:my\s+|the\s+|our\s+)?(?:order|parcel|package|delivery|box|items?)|(?:orders?|parcels?|packages?|deliver\w*|box\w*|items?)\s+(?:were\s+|was\s+|got\s+)?lost)\b",
        "brand_failed", "experience", 1.2,
    ),
    Rule(
        r"\b(?:never|didnt|noone|wont|wouldnt|wouldn|couldnt|refused?\s+to|would\s+not|will\s+not|havent|hasnt|have\s+not|has\s+not|"
        r"still\s+not|yet\s+to)\s+(?:ever\s+|even\s+|yet\s+)?(?:been\s+)?(?:got\s+back|gotten\s+back|get\s+back|respond\w*|repl\w*|answer\w*|call\w*\s+back|helped|help|fix\w*|resolv\w*|sort\w*|listen\w*|acknowledge\w*|explain\w*)"
        r"|\bno\s+(?:response|reply|answer|help|follow.?up|callback|call\s+back|explanation|real\s+answer)|\bignor\w*|\bcut\s+off|\bwait\w*|\bhours?\s+on\s+(?:the\s+)?(?:phone|hold)"
        r"|\bnothing\s+(?:was|got)\s+done|\bkept\s+(?:cancell?ing|rescheduling|transferring)|\bcancell?ed\s+(?:my|the|our)\s+appointment|\bslow\s+to\s+(?:respond|reply|answer|help|fix)"
        r"|\brun\s*around|\bgiving\s+me\s+the\s+run|\b(?:rude|unhelpful|unprofessional|incompetent|clueless|attitude|inexperienced|untrained|uninformed)\b",
        "brand_failed", "experience", 1.2,
    ),
    Rule(
        r"\b(?:cantlogin|crash\w*|bugs?|buggy|glitch\w*|froze|freez\w*|errors?|kept\s+(?:failing|crashing|freezing|logging)|something\s+went\s+wrong|"
        r"(?:couldnt|cant|cannot|unable\s+to)\s+(?:log|sign|get\s+in|access|pay|login|use\s+the\s+(?:app|site|website)|complete))",
        "brand_failed", "experience", 1.0,
    ),
    # --- product topics and failures (telecom, utilities, software, streaming, food)
    Rule(
        r"\b(?:quality|product|products|items?|food|meals?|recipes?|ingredients?|portions?|taste|tasted|flavou?rs?|features?|"
        r"functionality|function|selection|range|choice|catalog\w*|content|shows|films|movies|podcasts?|music|channels?|signal|coverage|"
        r"reception|connection|connectivity|internet|broadband|wifi|wi-fi|speeds?|download\w*|upload\w*|bandwidth|network|"
        r"devices?|phones?|handsets?|equipment|router|modem|hardware|dvr|set\W?top\s+box|cable\s+box|receiver|remote|software|integrat\w*|reliability|performance|"
        r"data(?:\s+(?:allowance|plan|cap|caps|limit|limits))?|\d*\s?[kmg]bps|\d*\s?mb/s|megabits?|gigabits?|minutes|roaming|storage|tools?|dashboard|domain|seo|"
        r"loading|load\s+times?|plugins?|themes?|usefulness|useful|value|outage|outages|power|electricity|supply|water)\b",
        "brand_failed", "product", 0.6, why_weight=TOPIC_WHY,
    ),
    Rule(
        r"\b(?:broke|broken|breaking|breaks|faulty|fault|defective|defect|stopped\s+working|doesnt\s+work|didnt\s+work|notworking|"
        r"never\s+worked|unreliable|unusable|outages?|went\s+down|(?:keeps?|kept)\s+(?:going|cutting|dropping)\s+out|(?:goes|went|going)\s+out\s+(?:again|every|all|for|constantly|daily|often)|"
        r"(?:data|usage|bandwidth)\s+(?:caps?|limits?)|capped|notasexpected|down\s+again|dropp\w*|disconnect\w*|downtime|bland|stale|"
        r"inedible|tiny|mouldy|moldy|rotten|expired|gone\s+downhill|went\s+downhill|going\s+downhill|declined|got\s+worse|gotten\s+worse|"
        r"deteriorat\w*|wrong\s+size|doesnt\s+fit|didnt\s+fit|bruised|stopped\s+(?:selling|stocking|offering)|unavailable|not\s+available|"
        r"unsupported|not\s+supported|discontinued|out\s+of\s+stock|never\s+in\s+stock|(?:the\s+)?same\s+every\s+(?:time|week|month)|"
        r"throttl\w*|slow\s+(?:internet|speeds?|connection|broadband|wifi|loading)|(?:download|upload|internet|broadband|connection)\W+(?:\w+\W+)?speeds?|"
        r"non\W?working|technical\s+(?:issues?|problems?|difficult\w*|glitch\w*)|dead\s+zones?|no\s+signal|dropped\s+calls|"
        r"lack\w*\s+(?:of\s+)?(?:features?|functionality|integrations?|options?)|missing\s+(?:features?|functionality|integrations?)|"
        r"(?:need|needed|want|wanted)\s+more\s+(?:features?|functionality|options?)|"
        r"(?:too|very|overly|so)\s+(?:complex|complicated|confusing|difficult|hard|technical)|hardtouse|(?:difficult|hard)\s+to\s+(?:use|customi[sz]e|set\s+up|learn|understand)|"
        r"ease\s+of\s+use|user\W?friendly|learning\s+curve|"
        r"(?:didnt|does\s+not|doesnt|did\s+not)\s+(?:meet|fit|suit)\s+(?:my|our)\s+needs|(?:didnt|does\s+not|doesnt|did\s+not)\s+(?:do|include|have)\s+what|"
        r"(?:couldnt|cant|cannot|could\s+not)\s+find\s+what|not\s+what\s+i\s+(?:expected|wanted|needed)|"
        r"expected\s+something\s+else|(?:didnt|did\s+not)\s+(?:see|get)\s+(?:the|much|any|enough)\s+value|notuseful|unsolved|"
        r"(?:cant|cannot|couldnt|unable\s+to)\s+use\s+(?:a|the|my|any)\s+\w+)\b",
        "brand_failed", "product", 1.2,
    ),
    Rule(
        r"\b(?:terrible|awful|horrible|horrendous|appalling|shocking|poor|bad|worst|worse|disgusting|dreadful|pathetic|"
        r"rubbish|crap|crappy|useless|hopeless|joke|nightmare|disappoint\w*|frustrat\w*|fed\s+up|sick\s+of|couldbebetter|"
        r"slow|scam\w*|ripped\s+off|rip\s+off|misleading|misled|lied|ridiculous|unfair|annoying|excessive|last\s+straw|"
        r"dissatisf\w*|unsatisf\w*|unhappy|not\s+happy|less\s+than\s+(?:i\s+)?expected|below\s+expectations|"
        r"limited|lack\w*|lacks|insufficient|inadequate|inconsistent|issues?|problems?|trouble|difficult|illegal\w*|"
        r"unlawful\w*|wrongful\w*|fail\w*|refus\w*|denied|deny|without\s+(?:warning|notice)|mistake\w*|errors?|cheat\w*|stole|steal\w*)\b",
        "brand_failed", None, 1.0,
    ),
    # --- circumstance: strong cues (weight 2) beat "moved to ..." read as switching
    Rule(
        r"\b(?:moved|moving|move|relocat\w*|emigrat\w*)\s+(?:\w+\s+){0,3}?(?:house|home|away|abroad|overseas|out|country|"
        r"countries|city|town|state|area|flat|apartment|region|interstate|uni|university|nursing|care)\b|\brelocat\w*|\bemigrat\w*"
        r"|^ (?:moved|moving|move|moved away|moved out) $",
        "circumstance", "other", 2.0,
    ),
    Rule(r"\b(?:died|passed\s+away|has\s+passed|passed\s+on|deceased|death|bereave\w*|funeral)\b", "circumstance", "other", 2.0),
    Rule(
        r"\b(?:closed|closing|close|shut|shutting|wound|winding|ceased|sold)\s+(?:down\s+|up\s+)?(?:\w+\s+){0,2}?(?:business|company|shop|store|office|practice|firm|restaurant|cafe)\b"
        r"|\b(?:business|company|shop|store|office|practice|firm)\s+(?:has\s+|have\s+|was\s+|is\s+)?(?:closed|closing|shut|ceased|folded|gone\s+bust|went\s+bust)\b"
        r"|\bout\s+of\s+business|\bbankrupt\w*|\bliquidat\w*|\bretir(?:ed|ing|ement)\b",
        "circumstance", "other", 2.0,
    ),
    Rule(
        r"\b(?:nolonger\s+(?:need\w*|use\w*|requir\w*|relevant|necessary|want\w*|interested|have\s+(?:a|the)\s+need)|noneed|notusing|not\s+needed|"
        r"stopped\s+using|dont\s+have\s+(?:the\s+)?time|no\s+time|too\s+busy|kids\s+(?:have\s+)?(?:grown|left)|new\s+baby|pregnan\w*|"
        r"divorc\w*|separated|health|illness|hospital\w*|sold\s+the\s+(?:car|house|property)|"
        r"(?:not|dont|didnt)\s+(?:\w+\s+)?(?:use|using|used)\s+(?:it\s+|this\s+|the\s+\w+\s+)?(?:enough|much|often|anymore|any\s+more)|"
        r"lowusage|unused|usage\s+(?:changed|dropped|went\s+down)|(?:my|our)\s+usage|"
        r"(?:project|site|event|course|season|contract\s+work|campaign|trip|job)\s+(?:is\s+|was\s+|has\s+)?(?:over|done|finished|ended|complete\w*|"
        r"not\s+ready|isnt\s+getting|not\s+getting)|(?:done|finished)\s+with\s+(?:my|our|the)\s+\w+|(?:couldnt|could\s+not|didnt)\s+finish|"
        r"(?:couldnt|could\s+not)\s+achieve|(?:temporary|temporarily|short\W?term|taking\s+a|take\s+a|need\s+a|just\s+need\s+a)\s+(?:break|pause|need|hiatus)|"
        r"priorit\w*|notraction|notready|(?:might|may|will|plan\s+to)\s+(?:return|come\s+back|be\s+back|resubscribe)|come\s+back\s+later|"
        r"stop\s+myself|self\W?exclu\w*|gambling|addict\w*|not\s+something\s+i\s+plan|not\s+going\s+to\s+be\s+using|dont\s+want\s+it\s+on)\b",
        "circumstance", "other", 2.0,
    ),
    # Life changes. A new home, job or routine: why only, what comes from the topic ("can't receive
    # deliveries at my new place" is circumstance about the delivery experience).
    Rule(
        r"\bnew\s+(?:address|place|flat|house|home|building|street|area|job|shift|city|town|routine)\b"
        r"|\b(?:shift\s+work|working\s+nights|night\s+shifts?|travel\s+for\s+work|never\s+home|operation|surgery|"
        r"injur\w*|mobility|hurricane|flood\w*|wildfire|earthquake|storm\s+damage|disaster|ill|sick|cancer|disabilit\w*)\b",
        "circumstance", None, 2.0,
    ),
    # Family and personal events: circumstance, other.
    Rule(
        r"\b(?:travell?ing|having\s+a\s+baby|had\s+a\s+baby|split\s+up|break\s?up|broke\s+up|off\s+to\s+(?:uni|university|college)|"
        r"personal\s+reasons?|family\s+reasons?|(?:moving|moved|going)\s+(?:in\s+)?(?:to\s+live\s+)?with\s+my|"
        r"kids\s+(?:moved\s+out|left)|(?:my|our)\s+needs\s+(?:have\s+)?changed|needs\s+changed|gift\s+subscription)\b",
        "circumstance", "other", 2.0,
    ),
    # How they eat or use the product changed: circumstance, product.
    Rule(
        r"\b(?:eating\s+out|cook(?:ing)?\s+less|only\s+cook|grow\s+my\s+own|living\s+alone|(?:special|new|strict)\s+diet|"
        r"started\s+a\s+diet|on\s+a\s+diet|doctor\s+(?:put|said|told)|while\s+i\s+was\s+ill|grew\s+out\s+of|outgr[eo]wn?)\b",
        "circumstance", "product", 2.0,
    ),
    Rule(
        r"\b(?:on\s+a|student|tight|household|family)\s+budget\b|\bbudget\s+(?:is|was)\s+tight|\bcutting\s+(?:back|down)"
        r"|\bcut\s+back|\bcutting\s+(?:all\s+)?(?:my\s+|our\s+)?(?:subscriptions|costs|spending)|\breduce\s+(?:my\s+|our\s+)?"
        r"(?:spending|costs|outgoings)|\bsaving\s+(?:up\s+)?for\b|\b(?:my|our)\s+income\s+(?:dropped|fell|went\s+down|was\s+cut|reduced|stopped)"
        r"|\b(?:no|lost\s+(?:my|our)|not\s+receiving\s+any(?:\s+kind\s+of)?)\s+income|\brent\s+(?:went|increased|rose|has)|\boutgoings\b",
        "circumstance", "price", 2.5,
    ),
    Rule(
        r"\b(?:lost\s+(?:my|our|a)\s+jobs?|loose\s+a\s+job|out\s+of\s+work|unemploy\w*|redundan\w*|laid\s+off|furlough\w*|(?:cant|cannot|couldnt|can\s+not|nolonger)\s+afford|"
        r"financial\s+(?:hardship|difficult\w*|reasons?|situation|problems?|trouble|priorit\w*)|hardship|money\s+is\s+tight|tight\s+on\s+money|budget\s+cuts?|cost\s+of\s+living|"
        r"too\s+expensive\s+for\s+(?:me|us)|price\W+budget|budget\W+price)\b",
        "circumstance", "price", 2.5,
    ),
)

ENGLISH = r"\b(?:the|and|to|was|is|it|too|my|i|not|of|for|with|they|you|your|we|a|in|no|but|just|so|service|price)\b"
FOREIGN = (
    r"\b(?:el|los|las|muy|demasiado|pero|porque|caro|servicio|não|muito|trop|cher|très|parce|avec|nicht|und|der|die|das|"
    r"ist|sehr|zu|teuer|het|niet|een|molto|troppo|perché)\b"
)
