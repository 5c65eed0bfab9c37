#!/usr/bin/env bash
# Print GET /whatsapp/stats (the troubleshooting guide, section 2).
#   ./check-whatsapp-stats.sh YOUR_JWT_TOKEN          # API_URL defaults to http://localhost:3000
#   API_URL=https://crm.example.com ./check-whatsapp-stats.sh YOUR_JWT_TOKEN
set -uo pipefail

TOKEN=${1:-}
API_URL=${API_URL:-http://localhost:3000}
API_URL=${API_URL%/}

if [ -z "$TOKEN" ]; then
  echo "Usage: $0 YOUR_JWT_TOKEN" >&2
  echo "Get a token: curl -X POST $API_URL/auth/login -H 'Content-Type: application/json' -d '{\"email\": \"admin@example.com\", \"password\": \"your_password\"}'" >&2
  exit 2
fi

body=$(mktemp)
trap 'rm -f "$body"' EXIT
status=$(curl -sS -o "$body" -w '%{http_code}' "$API_URL/whatsapp/stats" \
  -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json") || {
  echo "❌ Could not reach $API_URL (is the server running? set API_URL)" >&2
  exit 3
}

if [ "$status" != "200" ]; then
  echo "❌ $API_URL/whatsapp/stats answered HTTP $status" >&2
  [ "$status" = "401" ] && echo "   The token is missing, wrong or expired: log in again (POST /auth/login)." >&2
  cat "$body" >&2; echo >&2
  exit 1
fi

if command -v jq >/dev/null 2>&1; then
  jq '.' "$body"
else
  cat "$body"; echo
fi
