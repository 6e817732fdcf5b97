"""English phrases: a grammar of short alternatives ("a|b|c"), symbols in braces.

Runs of fixed words stay short (three words or fewer between two choices), so no
8-word sequence is common across the network's messages."""

LANGUAGE = "en"
REPLY_PREFIX = "Re: "
ATTRIBUTION = "On {date}, {name} wrote:"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"
DAYS = "Mon Tue Wed Thu Fri Sat Sun"
DATE = "{weekday}, {month} {day}, {year} at {time}"

OPENERS = (
    "Quick question about",
    "Following up on",
    "Thoughts on",
    "A note about",
    "Update on",
    "Checking in about",
    "Ideas for",
    "Notes from",
    "Next steps for",
    "Feedback on",
    "Plans for",
    "Question regarding",
    "Catching up on",
    "Draft for",
    "Summary of",
    "Reminder about",
    "Small favour re",
    "Your take on",
    "Agenda for",
    "Recap of",
    "Heads-up on",
    "Proposal for",
    "Numbers for",
    "Two questions on",
    "Status of",
    "Comments on",
    "A thought on",
    "Timing for",
    "Help with",
    "Final look at",
    "Open points on",
    "Second pass on",
    "Changes to",
    "Review of",
    "Quick sync on",
    "Where we are with",
    "Input needed on",
    "Lessons from",
    "Wrap-up of",
    "Call about",
)
TOPIC_PREFIXES = (
    "the",
    "the new",
    "the revised",
    "the Q1",
    "the Q2",
    "the Q3",
    "the Q4",
    "the spring",
    "the autumn",
    "the internal",
    "the customer",
    "the partner",
    "the 2027",
    "our",
    "the team",
    "the draft",
    "the shared",
    "the client",
    "the December",
    "the January",
)
TOPIC_NOUNS = (
    "review",
    "roadmap",
    "budget sheet",
    "workshop",
    "hiring plan",
    "landing page",
    "campaign",
    "offsite",
    "pricing page",
    "support backlog",
    "demo",
    "launch",
    "analytics report",
    "vendor contract",
    "design sprint",
    "newsletter",
    "migration plan",
    "case study",
    "sales deck",
    "survey",
    "blog post",
    "SEO audit",
    "webinar",
    "API docs",
    "training",
    "invoice process",
    "board update",
    "release notes",
    "trade show",
    "referral program",
    "style guide",
    "security review",
    "office move",
    "welcome pack",
    "research notes",
    "renewal",
    "pilot",
    "content calendar",
    "weekly sync",
    "feature request",
    "interviews",
    "retro",
    "kickoff",
    "forecast",
    "checklist",
    "budget review",
    "price list",
    "proposal",
    "agenda",
    "report",
    "handbook",
    "audit",
    "dashboard",
    "onboarding",
    "invoice",
    "contract draft",
    "press release",
    "event plan",
    "brochure",
    "partner list",
    "timeline",
    "FAQ page",
    "sign-up flow",
    "photo shoot",
    "customer call",
    "quote",
    "slide deck",
    "follow-up plan",
    "job posting",
    "team dinner",
)
QUALIFIERS = (
    "",
    "",
    "",
    "",
    " (draft)",
    " for Tuesday",
    " before Friday",
    " - quick one",
    ": two questions",
    " this week",
    " (v2)",
    " next steps",
    " for next week",
    " - update",
    " (short)",
    ": a few notes",
    " - timing",
    " for Monday",
    " - my notes",
    " (follow-up)",
    " before the call",
    ", take two",
    " - small change",
    " for the team",
    " for Thursday",
    " (quick)",
    " - thoughts welcome",
    " - one question",
    " (update)",
    " before Monday",
    " for the call",
    " - next week",
    " (final)",
    " - a few ideas",
    " for review",
    " - status",
    " (revised)",
    " - decision needed",
    " for Wednesday",
    " - by Friday",
)
ROLES = (
    "Account Manager",
    "Operations Lead",
    "Marketing Manager",
    "Project Manager",
    "Head of Sales",
    "Customer Success",
    "Product Manager",
    "Office Manager",
    "Finance Manager",
    "Partnerships",
    "Team Lead",
    "Consultant",
    "Founder",
    "Business Development",
    "Communications",
    "HR Manager",
)

GRAMMAR = {
    "greeting": "Hi {name},|Hello {name},|Hey {name},|Dear {name},|{name},|Good morning {name},"
    "|Morning {name},|Hi again {name},|Hello again {name},|Hey there {name},|Hi {name}!"
    "|Good afternoon {name},",
    "warm": "{hope} your {period} {going} {well}.|{thanks_for} {recent}.|{hope} you {are_fine}."
    "|{quick_one} {from_me}{from_tail}.",
    "hope": "I hope|Hope|Hoping|I trust|I do hope|I really hope|Fingers crossed|I am hoping"
    "|Here's hoping|I truly hope",
    "period": "week|day|{day}|morning|afternoon|month|quarter|project week",
    "going": "is going|has been going|went|seems to go|looks to be going",
    "well": "well|smoothly|nicely|okay|fine|alright",
    "are_fine": "are well|are keeping well|had a {good_adj} weekend|had a {good_adj} {day}"
    "|got some rest|made it back {safely}|are doing fine|are settling in|are enjoying {day}"
    "|had a {good_adj} trip|survived the rush",
    "thanks_for": "Thanks for|Thank you for|Many thanks for|Thanks again for|I appreciated",
    "recent": "your note {when}|the call {when}|your message {when}|the quick reply"
    "|the notes {when}|your help {when}|the update {when}|your time {when}",
    "when": "yesterday|last week|on {day}|earlier today|this morning|the other day"
    "|on {day} afternoon|last {day}",
    "day": "Monday|Tuesday|Wednesday|Thursday|Friday",
    "quick_one": "Just a quick|A short|Only a brief|A small|One quick|A tiny|Just one short"
    "|A very quick",
    "from_me": "note|note from me|update from here|question for you|follow-up from me"
    "|heads-up|reminder|request",
    "question": "{ask} {topic} {timing}?|{is_there} {news} {on_about} {topic}?"
    "|{who_knows} {topic_fact}?",
    "ask": "{ask_lead} {ask_verb}",
    "ask_lead": "Could you|Can you|Would you|Could you maybe|Can you please|Would you kindly"
    "|Could you quickly|Can you still",
    "ask_verb": "look at|review|annotate|check|share|help me with|sign off on"
    "|go through|comment on|skim",
    "timing": "this week|before {day}|by {day}|when you have a moment|at some point today"
    "|before our next call|in the next few days|once you are back|later this week"
    "|if you get a chance",
    "is_there": "Is there|Do we have|Did you hear|Have you got|Any chance of",
    "news": "any news|an update|a decision|a date|fresh numbers|feedback|a new version",
    "who_knows": "Do you remember|Any idea|Do you know|Can you check|Could you find out"
    "|Can you tell me|Do you happen to know|Could you ask around",
    "topic_fact": "who {signed} {topic}|when {topic} is {due}|where {topic} {lives}"
    "|what {changed} in {topic}{lately}|how {long_x} {topic} {will_take}",
    "wonder": "{i_wonder} {whether} {we_could} {adv2}{action} {topic}."
    "|{i_wonder} {whether} {topic} still"
    " {needs} {need}.",
    "i_wonder": "I was wondering|I keep asking myself|I am not sure|I would like to know"
    "|I cannot decide|I am curious|I doubt|I need to know|We should decide|I keep thinking about",
    "whether": "whether|if",
    "needs": "needs|requires|could use|would benefit from",
    "need": "another pass|a second opinion|more time|a clearer owner|fewer steps|a short summary"
    "|fresh numbers|a deadline",
    "action": "simplify|split up|revisit|finish|test|document|shorten|pause|prioritise|rethink",
    "update": "{status_lead} {topic} {status_is} {status_state}.|{i_have} {done} {artefact}"
    " {where}.|{status_lead} {done_passive} {artefact} {of_x} {topic}.",
    "status_lead": "Quick update:|Short status:|For your info,|Just so you know,|As promised,"
    "|Small news:|Good news:|FYI,|To keep you posted,|An update:",
    "status_is": "is now|looks|seems|is finally|should be|is",
    "status_state": "in good shape|almost done|ready for a last look|moving again"
    "|on track for {day}|a day or two behind|waiting on one answer|simpler than before"
    "|close to final|back on the list",
    "i_have": "I have|I've just|We have|I finally|This morning I|Yesterday we|Today I",
    "done": "updated|cleaned up|shared|rewritten|checked|moved|reordered|trimmed"
    "|added notes to|gone through",
    "done_passive": "we finished|I closed|we signed off|I reworked|we merged|I drafted|we approved"
    "|I split|we printed|I sent out",
    "artefact": "the first section|the open points|the numbers|the summary|the second half"
    "|the intro|the names|the figures|the last part|the draft",
    "where": "in the shared folder|in the doc|on our page|in the tracker|as discussed"
    "|so it reads better|before the review|for the team|in the latest version"
    "|where we left it",
    "scheduling": "{could_we} {maybe}{meet} {slot_time} {purpose}?|{i_am} {free} {slot_time},"
    " {if_that} {works}.|{would} {slot_time} {work_for} {purpose}?",
    "could_we": "Could we|Can we|Shall we|Would it work to|Is it possible to|Do you want to",
    "meet": "meet|have a quick call|catch up|sit down|find half an hour|talk|jump on a call"
    "|grab a coffee",
    "slot_time": "on {day} at {hour}|{day} morning|{day} after lunch|{day} around {hour}"
    "|later on {day}|{day} before {hour}|next {day}|this {day} at {hour}|{day} after {hour}",
    "hour": "9:00|9:30|10:00|10:30|11:00|11:30|13:00|14:00|14:30|15:00|16:00|16:30",
    "purpose": "to go over {topic}|about {topic}|to wrap up {topic}|and settle {topic}"
    "|to plan {topic}|and look at {topic} together|for {topic}|to sort out {topic}"
    "|to close {topic}|and decide on {topic}",
    "i_am": "I am|I'm|I should be|I will be|I could be|We are",
    "free": "free|around|available|at my desk|reachable|in the office",
    "if_that": "if that|in case that|if it|if this",
    "works": "works|helps|suits you|fits|is easier",
    "would": "Would|Does|Could|How about if",
    "work_for": "work for you|suit you|be okay|fit your plans|be better",
    "thanks": "{thank} {for_what}{amp}.",
    "thank": "Thanks so much|Thank you|Many thanks|A big thank you|Thanks a lot|Big thanks"
    "|Thank you again|Huge thanks|Thanks again|Cheers|Warm thanks|Thanks heaps",
    "for_what": "for {helping} {topic}|for {the_x} {when}|for {the_x}, {that_was} {praise}",
    "amp": "|, {that_was} {praise}|. {that_was} {praise}|, {praise_long}",
    "that_was": "it was|that was|this was|which was|truly|simply",
    "praise": "a real help|very kind|perfect|just right|a big relief|great timing|so useful"
    "|spot on",
    "praise_long": "much appreciated|hugely helpful|it helped a lot|the team noticed"
    "|it saved me time|I owe you one",
    "note": "{note_open} {someone} {asked} {about} {topic}.|{note_open} I {moved} {topic} to"
    " {when2}.|{note_open} I {will_be} {away} {when2}.|{note_open} {topic} {status_is}"
    " {status_state}.",
    "note_open": "Just a heads-up:|Small thing:|Quick note:|One more thing:|Before I forget,"
    "|By the way,|Also,|On a side note,|Oh, and|PS:|Unrelated:|For the record,",
    "someone": "a colleague|our manager|someone from finance|a client|Sarah from sales"
    "|the design team|a new partner|our intern|the CFO|a supplier|legal|the board",
    "asked": "asked me|was asking|had a question|reached out|wrote to me",
    "moved": "moved|pushed|shifted|rescheduled|postponed",
    "away": "out of the office|offline|travelling|at a workshop|on leave|in meetings|away"
    "|on site|with a client|off",
    "when2": "on {day}|next {day}|for most of {day}|on {day} morning|by the weekend"
    "|from {day}|until {day}",
    "writeup": "{seq} {we_should} {adv2}{action} {topic}, {because} {reason}.",
    "seq": "First,|Second,|Then|Next,|After that,|Finally,|Also,|Besides,|Meanwhile,|Later,"
    "|In short,|Ideally,",
    "we_should": "we should|I would|we could|let us|I suggest we|my plan is to|we might|I want to",
    "because": "because|since|as|given that",
    "reason": "{topic} depends on it|the deadline is {when3}|people keep asking|it saves time"
    "|the last round {took}|the numbers changed|nobody owns it yet|it is half done",
    "ask_back": "{lmk} {lmk_what}{lmk_tail}.|{no_rush_a} {no_rush_b}{no_rush_tail}.",
    "lmk_what": "if you {think_change} {obj_change}|what you {think_of} {pron}|how you {want_to}"
    " {proceed}|if you need {more} {detail}",
    "no_rush_tail": "|, {later_ok}|. {later_ok_cap}",
    "reply": "{thanks_short} {for_reply}{amp}.|{agree} {reply_plan}.|{one_q} {q_reply}?"
    "|{i_am} {free} {slot_time}, {if_that} {works}.",
    "thanks_short": "Thanks|Thank you|Many thanks|Thanks a lot|Great, thanks|Perfect, thank you",
    "for_reply": "for {the_x}|for the {upd_adj} {upd_noun}|for {upd_ing} {when}",
    "agree": "That works for me,|Sounds good,|Makes sense,|Agreed,|Fine by me,|Good idea,"
    "|Happy with that,|Understood,|All good,|Great,|Perfect,|Noted,",
    "reply_plan": "I will {do_reply} {when3}|let us {go_ahead} {as_planned}"
    "|I {will_send} {artefact}"
    " {when3}|{count_me_in} {for_day}|I {can} {take} {artefact}|I {adv}agree with {artefact}",
    "do_reply": "take a look|go through it|review it|get back to you|send my notes"
    "|check with {whom}|confirm",
    "when3": "today|tomorrow|by {day}|on {day}|later today|this week|before {day}"
    "|first thing {day}",
    "as_planned": "as planned|that way|on {day}|from {day}|with option {letter}|{when3}|like this",
    "one_q": "One question:|Quick check:|Just to confirm,|Before I start,|Small thing:|Quick one:"
    "|One thing:|To be sure,",
    "q_reply": "is {day} still fine|do you {need_v} {it_thing} by {day}|should I {loop} {someone}"
    "|is {artefact_ref} still {valid}|who else {should_see} {this_thing}"
    "|did you mean {artefact_ref}",
    "signoff": "Best,|Thanks,|Cheers,|Kind regards,|All the best,|Talk soon,|Best regards,"
    "|Many thanks,|Warm regards,|Regards,|Thanks again,|Speak soon,",
    "lmk": "Let me know|Tell me|Keep me posted|Ping me|Give me a sign|Write back|Say|Just say",
    "lmk_tail": "|, {no_pressure}| {when3}| when you can| once you have {read_it}",
    "no_pressure": "no pressure|no rush|whenever|in your own time|if you can|no stress",
    "no_rush_a": "No rush|No hurry|Nothing urgent|Take your time|There is no deadline"
    "|It is not urgent|It can wait",
    "no_rush_b": "on this|at all|here|with it|for now|really|on my side",
    "later_ok": "whenever suits you|{when3} is fine|it can wait until {day}|after {day} is fine"
    "|any day works|later is fine too",
    "later_ok_cap": "Whenever suits you|Any day works|Next week works too|{day} is fine"
    "|Later is fine|After {day} is fine|Monday is okay too|The weekend is fine",
    "go_ahead": "go ahead|do it|proceed|move forward|go for it|start|keep going",
    "adv": "|really |fully |mostly |partly |also |honestly ",
    "letter": "A|B|C|two|one|three",
    "it_thing": "it|the notes|my part|the numbers|a summary|the file|both",
    "artefact_ref": "the latest draft|the old version|the short one|the {day} version"
    "|the shared copy|your last file|the second option|the printout",
    "valid": "valid|current|okay|up to date|final|right|in use",
    "should_see": "should see|needs|should get|wants|must read|should review",
    "this_thing": "this|it|the draft|the notes|these numbers|the summary",
    "adv2": "|first |quickly |carefully |simply |properly |also |gently |soon ",
    "helping": "the help with|sorting out|your notes on|jumping in on|pushing|the work on"
    "|your eyes on|the ideas for|covering|your input on",
    "think_change": "want me to change|would change|would rework|would drop|would move|would redo"
    "|plan to change|need to change|prefer to change",
    "obj_change": "anything|a detail|the order|some wording|the numbers|the plan|a date|the scope"
    "|a step|one part|my notes|a name",
    "think_of": "think of|make of|feel about|would add to|would cut from|expect from",
    "pron": "it|the draft|this|the plan|my notes|the idea|the list|the outline",
    "want_to": "want to|would like to|plan to|prefer to|hope to|intend to",
    "proceed": "go on|proceed|continue|split it|handle it|move forward|tackle it|start",
    "more": "more|less|extra|other|some|fresh|older",
    "detail": "detail|numbers|context|examples|background|figures|input|time",
    "read_it": "read it|seen it|had a look|had a coffee|had lunch|caught up|time",
    "the_x": "{det} {quick} {reply_noun}",
    "signed": "signed off|asked for|owns|approved|started|last edited",
    "due": "due|expected|planned|needed|final|ready",
    "lives": "is kept|is stored|ended up|lives now|was saved|sits",
    "lately": "| lately| this week| since {day}| recently| last month",
    "will_be": "will be|am|might be|should be|expect to be|plan to be|have to be|need to be"
    "|may be|could be",
    "good_adj": "good|calm|nice|quiet|restful|relaxed",
    "safely": "safely|in one piece|on time|without delays|fine",
    "from_tail": "| today| before the weekend| on {topic}| for you| ahead of {day}| from {day}",
    "will_send": "will send|can send|will share|will forward|can bring|will add",
    "for_day": "for {day}|on {day}|from {day}|for the call|for the review",
    "can": "can|could|will|would happily|am happy to",
    "take": "take|handle|finish|draft|own|check",
    "on_about": "on|about|for|regarding|around",
    "det": "the|your|that|this",
    "quick": "quick|fast|swift|speedy|prompt|kind|clear|careful",
    "reply_noun": "reply|turnaround|answer|feedback|review|words|help|look",
    "changed": "changed|moved|got cut|was added|went wrong|improved",
    "maybe": "|maybe |quickly |briefly |finally |perhaps |still ",
    "long_x": "long|much time|many days|many hours|much effort|much budget",
    "will_take": "will take|needs|could take|should take|might take|still needs",
    "about": "about|regarding|with questions on|for news on|to talk about",
    "we_could": "we should|to|we could|we might|I should|you would|the team should|we can",
    "took": "took long|was slow|went badly|got stuck|ran late|was messy",
    "of_x": "of|for|in|from|on|behind",
    "upd_adj": "quick|full|short|latest|clear|useful|detailed",
    "upd_noun": "note|update|summary|details|reminder|numbers|list",
    "need_v": "need|want|expect|require|still need",
    "loop": "loop in|copy|ask|involve|invite|update|brief",
    "count_me_in": "count me in|I am in|I will join|I can join|add me|sign me up",
    "whom": "the team|finance|{someone}|my manager|legal|the client",
    "upd_ing": "checking|asking|writing|following up|sharing this|thinking of me|nudging me",
}
