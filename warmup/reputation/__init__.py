"""Sender reputation (issue 17): the daily DNS checks of every sending domain and SMTP
server address (checks), what they lead to (state: the grace period, pauses, the ramp held
while listed), and the receivers' own verdicts read by engagement."""
