"""The English rule layer: normalise free text, screen bad input, score why/what cues on whole columns.

Every step is a Polars expression over the whole column (no per-row Python). Polars' regex engine
has no look-around, so negation and idioms are handled by rewriting the text first: "not because
of the price" becomes "neg_price" (which no `\\bprice` cue matches), "no longer need" becomes
"noneed", "could be better" becomes "couldbebetter".
"""

from __future__ import annotations

import numpy as np
import polars as pl

from churnwhy.models.reason_taxonomy import UNKNOWN, WHAT, WHY, ReasonSettings, Rule

# Confidence of an axis = top score / (sum of scores + PRIOR): one clear cue gives ~0.6-0.75,
# two agreeing cues more, conflicting cues less.
PRIOR = 0.4
# When cues name several topics, the topics of the cues that decided `why` count this much more.
WHY_BONUS = 1.5
# Tie-break order for `what` (failures are mostly about experience).
WHAT_ORDER = ("experience", "product", "price", "other")
INPUT_STATUS = ("ok", "empty", "numeric", "symbols", "non_english", "non_answer")

# (pattern, replacement), applied in order to the lower-cased text.
_REWRITES: tuple[tuple[str, str], ...] = (
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
    # "moved to a new city" is a move, not a switch: keep "moved to" for switching brands.
    (
        r"\b(?:moved|moving|move|relocated)\s+(?:to\s+)?(?:(?:a|another|the|new|different|other)\s+){0,3}"
        r"(house|home|city|town|country|state|area|flat|apartment|region|abroad|overseas|away|uni|university)\b",
        " relocated $1 ",
    ),
    (r"\b(?:dont|do not|doesnt|does not|didnt|did not|no)\s+(?:really\s+)?need\b", " noneed "),
    (r"\b(?:not|never|barely|hardly|rarely|dont|didnt|wasnt|werent)\s+(?:really\s+)?(?:using|use|used)\b", " notusing "),
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

_PRICE = (
    r"\b(?:price\w*|pric(?:ey|y)|pricing|exs?p[aei]?n?[cs]+i?ve?\w*|costs?|costly|costing|money|afford\w*|fees?|"
    r"dollars?|pounds|quid|bucks|tariff|overpriced|over\s+priced|dear|value\s+for\s+money|subscription\s+fee)\b"
    r"|[£$€]\s?\d|\b\d+\s?(?:pm|p/m|/mo|/month|a month|per month|dollars|pounds|euros?)\b"
)
_WORSE = r"(?:increase\w*|rise|rises|rising|risen|hike\w*|went\s+up|go\s+up|goes\s+up|going\s+up|gone\s+up|doubled|jumped|kept\s+going\s+up)"

BUILTIN_RULES: tuple[Rule, ...] = (
    # --- better_offer: another brand pulled them away
    Rule(
        r"\b(?:switch|switched|switching|swapped|swapping|swap|changed|changing|moved|moving|ported|porting|"
        r"jumped|jumping|migrated|migrating|transferred|transferring|defected)\s+(?:over\s+|across\s+|back\s+)?(?:to|2)\b",
        "better_offer", None, 1.2,
    ),
    Rule(r"\b(?:left|leaving|leave)\s+(?:you\s+)?for\b|^ (?:switched|switching|switch|changed\s+provider|competitor) $", "better_offer", None, 1.2),
    Rule(r"\bdeals?\b", "better_offer", "price", 0.8),
    Rule(r"\b(?:\w+\s+)?missing\s+items?|\bitems?\s+(?:were\s+|was\s+)?missing|\bincomplete\s+orders?", "brand_failed", "experience", 1.5),
    Rule(r"\b(?:went|going|gone|go|signed\s+up|signed|joined|now|chose|choosing|picked|opted\s+for)\s+(?:with|to\s+join|using|on)\b", "better_offer", None, 1.2),
    Rule(r"\b(?:joined|chose|opted\s+for|signed\s+up\s+(?:with|for|to))\b", "better_offer", None, 1.0),
    Rule(r"\b(?:competitor|competitors|competition|rival|rivals)\b", "better_offer", None, 1.2),
    Rule(
        r"\b(?:elsewhere|alternative|alternatives|(?:another|other|different|new)\s+(?:provider|company|supplier|brand|bank|"
        r"carrier|service|network|vendor|platform|tool|app|shop|store|retailer|option|firm|insurer|energy\s+company)s?)\b",
        "better_offer", None, 1.2,
    ),
    Rule(r"\b\w+\s+offered\s+(?:me|us|a|an|better|cheaper|more|half|free|\d)", "better_offer", None, 1.2),
    Rule(r"\b(?:better|cheaper|best|great|good|lower)\s+(?:deal|price|rate|tariff|value|terms|interest\s+rate)s?\b", "better_offer", "price", 1.2),
    Rule(r"\b(?:better|best|great|good|nicer)\s+(?:offer|plan|package|option|service)s?\b", "better_offer", None, 1.2),
    Rule(
        r"\b(?:better|best|nicer|bigger|wider|more)\s+(?:\w+\s+)?(?:product|app|quality|selection|range|choice|coverage|features?|"
        r"shows|content|podcasts?|music|films|movies|recipes|integrations?)\b"
        r"|\b(?:app|website|site|interface|product)\s+(?:is|was|are)\s+(?:just\s+|much\s+|way\s+|far\s+|so\s+much\s+)?(?:better|nicer|easier|faster)\b",
        "better_offer", "product", 1.2,
    ),
    Rule(r"\b(?:cheaper|cheapr|cheeper|less\s+expensive|lower\s+price|half\s+the\s+price|more\s+for\s+less|better\s+value)\b", "better_offer", "price", 1.0),
    Rule(r"\b(?:instead|rather)\b", "better_offer", None, 0.8),
    Rule(r"\b(?:has|have|had|offers?|gives?|got|includes?)\s+(?:a\s+)?(?:much\s+|way\s+|far\s+|lot\s+)?(?:more|bigger|better|wider|larger|nicer)\b", "better_offer", None, 1.0),
    Rule(r"\b(?:is|are|was|were|just|much|way|far|so\s+much)\s+(?:better|nicer|faster|cheaper|easier|greener)\b", "better_offer", None, 1.0),
    Rule(r"\b(?:promo\w*|discount\w*|cash\s?back|introductory|\d+\s?%\s?off|free\s+(?:trial|months?|boxes?|installation))", "better_offer", "price", 0.8),
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
        r"\b(?:without\s+(?:asking|notice|warning|telling|consent|permission)|silently|out\s+of\s+nowhere|sneak\w*|"
        r"auto\W?renew\w*)\b",
        "brand_failed", None, 1.2,
    ),
    Rule(
        r"\b(?:promo\w*|discount\w*|offer|deal|introductory)\s+(?:\w+\s+){0,2}(?:ended|expired|removed|stopped|withdrawn|"
        r"scrapped|gone|ran\s+out)\b|\bhigher\s+(?:price|rate|fee)|\b(?:new|extra|added|surprise)\s+(?:fees?|charges?)\b"
        r"|\bfees?\s+(?:appeared|added|introduced|showed\s+up)\b",
        "brand_failed", "price", 1.5,
    ),
    # --- other: topics outside product, experience and price. Complaints about how the brand behaves
    # (privacy, spam, terms, trust) are its failure; neutral topics (sustainability, perks) leave why open.
    Rule(
        r"\b(?:privacy|gdpr|marketing|spam|upsell\w*|newsletters?|stop\s+(?:emailing|texting|calling)|my\s+(?:data|details)|"
        r"third\s+parties|data\s+(?:breach|leak|protection|sharing)|terms|trust|hack\w*|politic\w*|"
        r"treated\s+(?:like|as)|treat(?:ed|s|ing)?\s+(?:your|their|its)\s+(?:staff|drivers|workers|employees)|"
        r"(?:loyalty|rewards?)\s+(?:\w+\s+)?(?:was\s+|were\s+|got\s+)?(?:scrapped|cancell?ed|ended|removed|cut))\b",
        "brand_failed", "other", 1.2,
    ),
    Rule(
        r"\b(?:sustainab\w*|eco|environment\w*|carbon|plastic|packaging|waste|charit\w*|donat\w*|ethic\w*|local(?:ly)?|"
        r"farmers?|loyalty|rewards?|bundl\w*|employer|students?|perks?|values)\b",
        None, "other", 1.2,
    ),
    Rule(r"\b(?:family|partner|friends?|household)\b", None, "other", 0.6),
    # --- experience vocabulary beyond delivery and support (topic only: praise or failure decides why)
    Rule(
        r"\b(?:returns?|exchanges?|chat|live\s+chat|slots?|experience|hassle|convenien\w*|tracking|notif\w*|"
        r"texts?\s+me|punctual|friendly|helpful|responsive|smooth\w*)\b",
        None, "experience", 0.9,
    ),
    # --- product vocabulary beyond quality and range
    Rule(
        r"\b(?:organic|brands|variety|options|flexib\w*|customi[sz]\w*|in\s+stock|out\s+of\s+stock|substitut\w*|"
        r"fresh(?:er|est|ness)?|vegan|vegetarian|gluten\W?free|the\s+same\s+every)\b",
        None, "product", 0.9,
    ),
    Rule(
        r"\bfree\s+(?:delivery|shipping|postage)|\bfor\s+less\b|\bless\s+money|\bpay\s+less|\bsaves?\s+(?:me\s+)?money",
        "better_offer", "price", 1.2,
    ),
    # --- price: what=price; alone it reads as pulled away by a cheaper offer (documented default)
    Rule(_PRICE, "better_offer", "price", 0.7),
    Rule(r"\b(?:cheap|cheaply)\s+(?:made|quality|materials?)\b|\bflimsy\b", "brand_failed", "product", 1.2),
    # Price rises and hidden fees are the brand's doing.
    Rule(
        r"\b(?:price|prices|pricing|bill|bills|cost|costs|fee|fees|subscription|tariff|rate|rates|premium)\s+(?:\w+\s+){0,2}" + _WORSE
        + r"|\b(?:raised|raising|increased|increasing|hiked|hiking|upped|jacked)\s+(?:up\s+)?(?:\w+\s+){0,2}(?:price|prices|pricing|bill|cost|fees?|rates?)\b"
        + r"|\bput\s+(?:\w+\s+){0,2}prices?\s+up|\bhidden\s+(?:fees|charges|costs)|\bprice\s+(?:increase|rise|hike)",
        "brand_failed", "price", 1.5,
    ),
    # --- experience topics (a topic alone leans brand_failed: they name what went wrong)
    Rule(r"\b(?:deli\w*v\w*|delivry|shipping|shipment|shipped|courier|parcels?|packages?|drivers?|dispatch\w*)\b", "brand_failed", "experience", 0.8),
    Rule(
        r"\b(?:customer\s+service|service|support|helpdesk|help\s+desk|call\s+cent(?:er|re)|agents?|advisors?|advisers?|"
        r"representatives?|reps?|staff|employees?|managers?|cashiers?|engineers?|technicians?|complain\w*|complaints?|"
        r"on\s+hold|appointments?|installation|communication)\b",
        "brand_failed", "experience", 0.8,
    ),
    Rule(r"\b(?:app|apps|website|web\s*site|site|online|portal|login|log\s*in|logging\s+in|sign\s+in|password|checkout|check\s+out|interface|ui|ux)\b", "brand_failed", "experience", 0.6),
    Rule(r"\b(?:bill|bills|billing|invoic\w*|overcharg\w*|double\s+charg\w*|charged\s+twice|refund\w*|direct\s+debit)\b", "brand_failed", "experience", 0.8),
    # --- experience failures
    Rule(
        r"\b(?:late|delayed|delays?|never\s+(?:arrived|came|turned\s+up|showed|delivered)|didnt\s+(?:arrive|come|turn\s+up|show)|"
        r"arrived\s+(?:late|damaged|broken|open|wrong)|damaged|wrong\s+(?:item|order|size|address)|no\s*show|"
        r"lost\s+(?:my\s+|the\s+|our\s+)?(?:order|parcel|package|delivery|box|items?)|(?:orders?|parcels?|packages?|deliver\w*|box\w*|items?)\s+(?:were\s+|was\s+|got\s+)?lost)\b",
        "brand_failed", "experience", 1.2,
    ),
    Rule(
        r"\b(?:never|didnt|noone|wont|wouldnt|wouldn|couldnt)\s+(?:got\s+back|get\s+back|respond\w*|repl\w*|answer\w*|call\w*\s+back|helped|help|fix\w*|resolv\w*|sort\w*|listen\w*)"
        r"|\bno\s+(?:response|reply|answer|help|follow.?up|callback|call\s+back)|\bignor\w*|\bcut\s+off|\bwait\w*|\bhours?\s+on\s+(?:the\s+)?(?:phone|hold)"
        r"|\bnothing\s+(?:was|got)\s+done|\bkept\s+(?:cancell?ing|rescheduling)|\bcancell?ed\s+(?:my|the|our)\s+appointment|\bslow\s+to\s+(?:respond|reply|answer|help|fix)"
        r"|\b(?:rude|unhelpful|unprofessional|incompetent|clueless|attitude)\b",
        "brand_failed", "experience", 1.2,
    ),
    Rule(
        r"\b(?:crash\w*|bugs?|buggy|glitch\w*|froze|freez\w*|errors?|kept\s+(?:failing|crashing|freezing|logging)|"
        r"(?:couldnt|cant|cannot|unable\s+to)\s+(?:log|sign|get\s+in|access|pay|login|use\s+the\s+(?:app|site|website)))",
        "brand_failed", "experience", 1.0,
    ),
    # --- product topics and failures
    Rule(
        r"\b(?:quality|product|products|items?|food|meals?|recipes?|ingredients?|portions?|taste|tasted|flavou?rs?|features?|"
        r"functionality|selection|range|choice|catalog\w*|content|shows|films|movies|podcasts?|music|signal|coverage|"
        r"connection|internet|broadband|wifi|wi-fi|speeds?|network|device|unit|hardware|software|integrat\w*|reliability)\b",
        "brand_failed", "product", 0.6,
    ),
    Rule(
        r"\b(?:broke|broken|breaking|breaks|faulty|fault|defective|defect|stopped\s+working|doesnt\s+work|didnt\s+work|notworking|"
        r"never\s+worked|unreliable|unusable|outages?|went\s+down|down\s+again|dropp\w*|disconnect\w*|downtime|bland|stale|"
        r"inedible|tiny|mouldy|moldy|rotten|gone\s+downhill|went\s+downhill|going\s+downhill|declined|got\s+worse|gotten\s+worse|"
        r"deteriorat\w*|wrong\s+size|doesnt\s+fit|didnt\s+fit|bruised|stopped\s+(?:selling|stocking|offering)|"
        r"discontinued|out\s+of\s+stock|never\s+in\s+stock|(?:the\s+)?same\s+every\s+(?:time|week|month))\b",
        "brand_failed", "product", 1.2,
    ),
    Rule(
        r"\b(?:terrible|awful|horrible|horrendous|appalling|shocking|poor|bad|worst|worse|disgusting|dreadful|pathetic|"
        r"rubbish|crap|crappy|useless|hopeless|joke|nightmare|disappoint\w*|frustrat\w*|fed\s+up|sick\s+of|couldbebetter|"
        r"slow|scam\w*|ripped\s+off|rip\s+off|misleading|misled|lied|ridiculous|unfair|annoying|excessive|last\s+straw)\b",
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
        r"\b(?:nolonger\s+(?:need\w*|use\w*|requir\w*|relevant|necessary|want\w*|have\s+(?:a|the)\s+need)|noneed|notusing|not\s+needed|"
        r"stopped\s+using|dont\s+have\s+(?:the\s+)?time|no\s+time|too\s+busy|kids\s+(?:have\s+)?(?:grown|left)|new\s+baby|pregnan\w*|"
        r"divorc\w*|separated|health|illness|hospital\w*|sold\s+the\s+(?:car|house|property))\b",
        "circumstance", "other", 2.0,
    ),
    # Life changes. A new home, job or routine: why only, what comes from the topic ("can't receive
    # deliveries at my new place" is circumstance about the delivery experience).
    Rule(
        r"\bnew\s+(?:address|place|flat|house|home|building|street|area|job|shift|city|town|routine)\b"
        r"|\b(?:shift\s+work|working\s+nights|night\s+shifts?|travel\s+for\s+work|never\s+home|operation|surgery|"
        r"injur\w*|mobility)\b",
        "circumstance", None, 2.0,
    ),
    # Family and personal events: circumstance, other.
    Rule(
        r"\b(?:travell?ing|having\s+a\s+baby|split\s+up|break\s?up|broke\s+up|off\s+to\s+(?:uni|university|college)|"
        r"personal\s+reasons?|family\s+reasons?|(?:moving|moved|going)\s+(?:in\s+)?(?:to\s+live\s+)?with\s+my|"
        r"kids\s+(?:moved\s+out|left)|(?:my|our)\s+needs\s+changed|gift\s+subscription)\b",
        "circumstance", "other", 2.0,
    ),
    # How they eat or use the product changed: circumstance, product.
    Rule(
        r"\b(?:eating\s+out|cook(?:ing)?\s+less|only\s+cook|grow\s+my\s+own|living\s+alone|(?:special|new|strict)\s+diet|"
        r"started\s+a\s+diet|on\s+a\s+diet|doctor\s+(?:put|said|told)|while\s+i\s+was\s+ill|grew\s+out\s+of)\b",
        "circumstance", "product", 2.0,
    ),
    Rule(
        r"\b(?:on\s+a|my|our|student|tight|household|family)\s+budget\b|\bbudget\s+(?:is|was)\s+tight|\bcutting\s+(?:back|down)"
        r"|\bcut\s+back|\bcutting\s+(?:all\s+)?(?:my\s+|our\s+)?(?:subscriptions|costs|spending)|\breduce\s+(?:my\s+|our\s+)?"
        r"(?:spending|costs|outgoings)|\bsaving\s+(?:up\s+)?for\b|\b(?:my|our)\s+income|\brent\s+(?:went|increased|rose|has)"
        r"|\bmortgage|\bpension|\boutgoings\b",
        "circumstance", "price", 2.5,
    ),
    Rule(
        r"\b(?:lost\s+(?:my|our)\s+jobs?|unemploy\w*|redundan\w*|laid\s+off|furlough\w*|(?:cant|cannot|couldnt|can\s+not|nolonger)\s+afford|"
        r"financial\w*|money\s+is\s+tight|tight\s+on\s+money|budget\s+cuts?|cost\s+of\s+living)\b",
        "circumstance", "price", 2.5,
    ),
)

_NON_ANSWER = (
    r"^\W*(?:n\W?a|none|nothing|no|nope|nah|no\s+reason|other|others|misc\w*|idk|i\s+dont\s+know|dont\s+know|not\s+sure|"
    r"no\s+comments?|just\s+because|because|why|test|prefer\s+not\s+to\s+say|declined?|x+)\W*$"
)
_ENGLISH = r"\b(?:the|and|to|was|is|it|too|my|i|not|of|for|with|they|you|your|we|a|in|no|but|just|so|service|price)\b"
_FOREIGN = (
    r"\b(?:el|los|las|muy|demasiado|pero|porque|caro|servicio|não|muito|trop|cher|très|parce|avec|nicht|und|der|die|das|"
    r"ist|sehr|zu|teuer|het|niet|een|molto|troppo|perché)\b"
)


def normalise(expr: pl.Expr, max_chars: int) -> pl.Expr:
    """Lower-case, cut to max_chars, expand abbreviations, rewrite negations (see module docstring)."""
    out = expr.cast(pl.String).str.slice(0, max_chars).str.to_lowercase()
    for pattern, repl in _REWRITES:
        out = out.str.replace_all(pattern, repl)
    return pl.lit(" ") + out.str.strip_chars() + pl.lit(" ")


def screen(expr: pl.Expr) -> pl.Expr:
    """Why a text cannot be classified (one of INPUT_STATUS; "ok" when it can)."""
    text = expr.cast(pl.String).str.strip_chars()
    lower = text.str.to_lowercase()
    letters = text.str.count_matches(r"\p{L}")
    ascii_letters = text.str.count_matches(r"[A-Za-z]")
    return (
        pl.when(text.is_null() | (text.str.len_chars() == 0)).then(pl.lit("empty"))
        .when((letters == 0) & text.str.contains(r"\d")).then(pl.lit("numeric"))
        .when(letters == 0).then(pl.lit("symbols"))
        .when(ascii_letters < 0.5 * letters).then(pl.lit("non_english"))
        .when(lower.str.contains(_FOREIGN) & ~lower.str.contains(_ENGLISH)).then(pl.lit("non_english"))
        .when(lower.str.contains(_NON_ANSWER)).then(pl.lit("non_answer"))
        .when(~lower.str.contains(r"[aeiouy]")).then(pl.lit("symbols"))
        .otherwise(pl.lit("ok"))
    )


def all_rules(settings: ReasonSettings) -> tuple[Rule, ...]:
    """Built-in cues, then [reasons.keywords]/[reasons.patterns], then configured competitor names."""
    rules = BUILTIN_RULES + settings.extra_rules
    if settings.competitors:
        import re

        names = "|".join(r"\s+".join(re.escape(w) for w in c.lower().split()) for c in settings.competitors)
        rules += (Rule(rf"\b(?:{names})\b", "better_offer", None, 1.5, "config"),)
    return rules


def score(frame: pl.DataFrame, settings: ReasonSettings, *, text: str = "text", competitor: str | None = None) -> pl.DataFrame:
    """Rule layer on a whole column: returns why, what, why_conf, what_conf, status (one row per input row).

    An axis whose confidence is below settings.min_confidence is `unknown`.
    """
    if competitor is not None and competitor in frame.columns:
        named = frame[competitor].cast(pl.String).str.strip_chars().str.len_chars().fill_null(0) > 0
    else:
        named = pl.repeat(False, frame.height, eager=True)
    keys = pl.DataFrame({"_text": frame[text].cast(pl.String), "_comp": named})
    # Answers repeat ("too expensive"): score each distinct (text, competitor named) once.
    # At 1M customers that is 8,500 distinct answers for 260,000 churners.
    distinct, inverse = distinct_rows(keys)
    if distinct.height == keys.height:
        return _score_rows(keys, settings)
    return _score_rows(distinct, settings)[inverse]


def distinct_rows(keys: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """The distinct rows of `keys` in first-seen order, and for each row of `keys` the position of its
    distinct row: compute once per distinct row, then `result[inverse]` spreads it back (nulls match nulls)."""
    distinct = keys.unique(maintain_order=True)
    inverse = keys.join(distinct.with_row_index("__distinct"), on=keys.columns, how="left", nulls_equal=True,
                        maintain_order="left")["__distinct"].to_numpy()
    return distinct, inverse


def _score_rows(keys: pl.DataFrame, settings: ReasonSettings) -> pl.DataFrame:
    """score() on a frame of _text and _comp (a competitor is named), one output row per row."""
    rules = all_rules(settings)
    text = "_text"
    # Normalise once, then match every cue against the materialised column.
    df = keys.select(pl.col(text), pl.col("_comp"), _norm=normalise(pl.col(text), settings.max_chars),
                     _status=screen(pl.col(text)))
    df = df.with_columns(
        [pl.col("_norm").str.contains(r.pattern).fill_null(False).alias(f"_h{i}") for i, r in enumerate(rules)]
    )
    ok = pl.col("_status") == "ok"

    def axis_score(axis: str, value: str, bonus_why: pl.Expr | None = None) -> pl.Expr:
        terms = [pl.lit(0.0)]
        for i, r in enumerate(rules):
            if getattr(r, axis) != value:
                continue
            w = pl.lit(r.weight)
            if bonus_why is not None and r.why is not None:
                w = pl.when(bonus_why == r.why).then(r.weight * WHY_BONUS).otherwise(r.weight)
            terms.append(pl.when(pl.col(f"_h{i}")).then(w).otherwise(0.0))
        if axis == "why" and value == "better_offer":
            terms.append(pl.when(pl.col("_comp")).then(1.2).otherwise(0.0))
        return pl.when(ok).then(pl.sum_horizontal(terms)).otherwise(0.0)

    whys = [w for w in WHY if w != UNKNOWN]
    whats = [w for w in WHAT if w != UNKNOWN]
    df = df.with_columns([axis_score("why", w).alias(f"_why_{w}") for w in whys])
    df = df.with_columns(_best_why=_argmax([f"_why_{w}" for w in whys], whys))
    df = df.with_columns([axis_score("what", w, pl.col("_best_why")).alias(f"_what_{w}") for w in whats])
    order = list(WHAT_ORDER)
    df = df.with_columns(_best_what=_argmax([f"_what_{w}" for w in order], order))
    why_conf = _confidence([f"_why_{w}" for w in whys])
    what_conf = _confidence([f"_what_{w}" for w in whats])
    floor = settings.min_confidence
    return df.select(
        why=pl.when(why_conf >= floor).then(pl.col("_best_why")).otherwise(pl.lit(UNKNOWN)),
        what=pl.when(what_conf >= floor).then(pl.col("_best_what")).otherwise(pl.lit(UNKNOWN)),
        why_conf=why_conf,
        what_conf=what_conf,
        status=pl.col("_status"),
        truncated=pl.col(text).str.len_chars().fill_null(0) > settings.max_chars,
    )


def _argmax(columns: list[str], names: list[str]) -> pl.Expr:
    # First of the maxima wins, so `names` order is the tie-break.
    best = pl.max_horizontal(columns)
    out = pl.lit(None, dtype=pl.String)
    for col, name in reversed(list(zip(columns, names, strict=True))):
        out = pl.when(pl.col(col) == best).then(pl.lit(name)).otherwise(out)
    return out


def _confidence(columns: list[str]) -> pl.Expr:
    total = pl.sum_horizontal(columns)
    return pl.when(total > 0).then(pl.max_horizontal(columns) / (total + PRIOR)).otherwise(0.0)
