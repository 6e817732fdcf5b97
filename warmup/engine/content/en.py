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
    "|{quick_one} {from_me}.",
    "hope": "I hope|Hope|Hoping|I trust|I do hope",
    "period": "week|day|{day}|morning|afternoon|month|week so far",
    "going": "is going|has been going|went|is off to a start that is",
    "well": "well|smoothly|nicely|okay|fine|alright",
    "are_fine": "are well|are keeping well|had a good weekend|had a calm {day}|are not too busy"
    "|got some rest|made it back safely",
    "thanks_for": "Thanks for|Thank you for|Many thanks for|Thanks again for|I appreciated",
    "recent": "your note {when}|the call {when}|your message {when}|the quick reply"
    "|the notes {when}|your help {when}|the update {when}|your time {when}",
    "when": "yesterday|last week|on {day}|earlier today|this morning|the other day"
    "|on {day} afternoon|last {day}",
    "day": "Monday|Tuesday|Wednesday|Thursday|Friday",
    "quick_one": "Just a quick|A short|Only a brief|A small|One quick|A tiny",
    "from_me": "note from my side|update from here|question for you|follow-up from me"
    "|heads-up|reminder",
    "question": "{ask} {topic} {timing}?|{is_there} {news} on {topic}?|{who_knows} {topic_fact}?",
    "ask": "Could you look at|Would you review|Can you send me your notes on|Do you know who owns"
    "|Have you seen|Could we talk through|Would you mind checking|Can you share"
    "|Could you give me a hand with|Can you sign off on",
    "timing": "this week|before {day}|by {day}|when you have a moment|at some point today"
    "|before our next call|in the next few days|once you are back|later this week"
    "|if you get a chance",
    "is_there": "Is there|Do we have|Did you hear|Have you got|Any chance of",
    "news": "any news|an update|a decision|a date|fresh numbers|feedback|a new version",
    "who_knows": "Do you remember|Any idea|Do you know|Can you check|Could you find out",
    "topic_fact": "who signed off {topic}|when {topic} is due|where we keep {topic}"
    "|how long {topic} will take|what changed in {topic}|who asked for {topic}",
    "wonder": "{i_wonder} {whether} we should {action} {topic}.|{i_wonder} {whether} {topic} still"
    " {needs} {need}.",
    "i_wonder": "I was wondering|I keep asking myself|I am not sure|I would like to know"
    "|I cannot decide|I am curious",
    "whether": "whether|if",
    "needs": "needs|requires|could use|would benefit from",
    "need": "another pass|a second opinion|more time|a clearer owner|fewer steps|a short summary"
    "|fresh numbers|a deadline",
    "action": "simplify|split up|revisit|finish|test|document|shorten|pause|prioritise|rethink",
    "update": "{status_lead} {topic} {status_is} {status_state}.|{i_have} {done} {artefact}"
    " {where}.|{status_lead} {done_passive} {artefact} of {topic}.",
    "status_lead": "Quick update:|Short status:|For your info,|Just so you know,|As promised,"
    "|Small news:|Good news:|FYI,|To keep you posted,|An update:",
    "status_is": "is now|looks|seems|is finally|should be|is",
    "status_state": "in good shape|almost done|ready for a last look|moving again"
    "|on track for {day}|a day or two behind|waiting on one answer|simpler than before"
    "|close to final|back on the list",
    "i_have": "I have|I've just|We have|I finally|This morning I|Yesterday we|Today I",
    "done": "updated|cleaned up|shared|rewritten|checked|moved|reordered|trimmed"
    "|added notes to|gone through",
    "done_passive": "we finished|I closed|we signed off|I reworked|we merged|I drafted",
    "artefact": "the first section|the open points|the numbers|the summary|the second half"
    "|the intro|the list of names|the figures|the last part|the draft",
    "where": "in the shared folder|in the doc|on our page|in the tracker|as discussed"
    "|so it reads better|before the review|for the team|in the latest version"
    "|where we left it",
    "scheduling": "{could_we} {meet} {slot_time} {purpose}?|{i_am} {free} {slot_time},"
    " {if_that} {works}.|{would} {slot_time} {work_for} {purpose}?",
    "could_we": "Could we|Can we|Shall we|Would it work to|Is it possible to|Do you want to",
    "meet": "meet|have a quick call|catch up|sit down|find half an hour|talk|jump on a call"
    "|grab a coffee",
    "slot_time": "on {day} at {hour}|{day} morning|{day} after lunch|early next week"
    "|later on {day}|sometime {day}|next {day}|this {day} at {hour}",
    "hour": "9:00|9:30|10:00|10:30|11:00|11:30|13:00|14:00|14:30|15:00|16:00|16:30",
    "purpose": "to go over {topic}|about {topic}|to wrap up {topic}|and settle {topic}"
    "|to plan {topic}|and look at {topic} together",
    "i_am": "I am|I'm|I should be|I will be|I could be|We are",
    "free": "free|around|available|at my desk|reachable|in the office",
    "if_that": "if that|in case that|if it|if this",
    "works": "works|helps|suits you|fits|is easier",
    "would": "Would|Does|Could|How about if",
    "work_for": "work for you|suit you|be okay|fit your plans|be better",
    "thanks": "{thank} {for_what}{amp}.",
    "thank": "Thanks so much|Thank you|Many thanks|A big thank you|Thanks a lot"
    "|I am grateful|Thank you again|Huge thanks",
    "for_what": "for the help with {topic}|for sorting out {topic}|for your notes on {topic}"
    "|for the time {when}|for jumping in on {topic}|for the quick turnaround"
    "|for pushing {topic} along|for the kind words",
    "amp": "|, it made a real difference| - it saved me a lot of time|, really appreciated"
    "|, the team noticed too|, that was above and beyond",
    "note": "{note_open} {someone} {asked} about {topic}.|{note_open} I {moved} {topic} to"
    " {when2}.|{note_open} I will be {away} {when2}.|{note_open} {topic} {status_is}"
    " {status_state}.",
    "note_open": "Just a heads-up:|Small thing:|Quick note:|One more thing:|Before I forget,"
    "|By the way,|Also,|On a side note,",
    "someone": "a colleague|our manager|someone from finance|a client|Sarah from sales"
    "|the design team|a new partner|our intern",
    "asked": "asked me|was asking|had a question|reached out|wrote to me",
    "moved": "moved|pushed|shifted|rescheduled|postponed",
    "away": "out of the office|offline|travelling|at a workshop|on leave|in meetings",
    "when2": "{day}|next {day}|most of {day}|{day} morning|the end of the week",
    "writeup": "{seq} {we_should} {action} {topic}, {because} {reason}.",
    "seq": "First,|Second,|Then|Next,|After that,|Finally,|On top of that,|In short,|Also,",
    "we_should": "we should|I would|we could|it might help to|I suggest we|my plan is to",
    "because": "because|since|as|given that",
    "reason": "{topic} depends on it|the deadline is {when3}|people keep asking|it saves time"
    "|the last round took long|the numbers changed|nobody owns it yet|it is half done",
    "ask_back": "{let_me_know} {lmk_what}.|{no_rush}{no_rush_tail}.",
    "let_me_know": "Let me know|Tell me|Just say|Drop me a line|Give me a shout|Send me a note",
    "lmk_what": "what you think|if that works|if anything is missing|if you see it differently"
    "|if I should change anything|how you want to go on|if you need more detail"
    "|when you have a minute",
    "no_rush": "No rush|No hurry|Nothing urgent|Take your time|There is no deadline",
    "no_rush_tail": " at all| on this|, whenever suits you|, next week is fine|, it can wait"
    " until {day}| - {day} is fine",
    "reply": "{thanks_short} {for_reply}{amp}.|{agree} {reply_plan}.|{one_q} {q_reply}?"
    "|{i_am} {free} {slot_time}, {if_that} {works}.",
    "thanks_short": "Thanks|Thank you|Many thanks|Thanks a lot|Great, thanks|Perfect, thank you",
    "for_reply": "for the note|for the update|for sending this|for the details"
    "|for thinking of me|for the reminder|for checking|for the quick reply",
    "agree": "That works for me,|Sounds good,|Makes sense,|Agreed,|Fine by me,|Good idea,"
    "|Happy with that,|Understood,",
    "reply_plan": "I will {do_reply} {when3}|let us go ahead {as_planned}|I will send {artefact}"
    " {when3}|count me in for {day}|I can take {artefact}",
    "do_reply": "take a look|go through it|review it|get back to you|send my notes"
    "|check with the team|confirm",
    "when3": "today|tomorrow|by {day}|on {day}|later today|this week|before {day}"
    "|first thing {day}",
    "as_planned": "as planned|with that|on {day}|from here|with the first option",
    "one_q": "One question:|Quick check:|Just to confirm,|Before I start,|Small thing:",
    "q_reply": "is {day} still fine|do you need it by {day}|should I loop in {someone}"
    "|is the old version still valid|who else should see this|did you mean the latest draft",
    "signoff": "Best,|Thanks,|Cheers,|Kind regards,|All the best,|Talk soon,|Best regards,"
    "|Many thanks,|Warm regards,|Regards,|Thanks again,|Speak soon,",
}
