#!/bin/sh
# As the official image's 20-envsubst-on-templates.sh: /etc/nginx/templates/X.template
# becomes /etc/nginx/conf.d/X, with only the variables set in the environment replaced
# (nginx's own $variables are left alone).
set -eu
defined=$(printf '${%s} ' $(awk 'END { for (name in ENVIRON) print name }' </dev/null))
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  out=/etc/nginx/conf.d/$(basename "$template" .template)
  envsubst "$defined" <"$template" >"$out"
  echo "nginx stand-in: $template -> $out"
done
