#!/usr/bin/env bash
# End-to-end: the event-driven reconcile loop (`vem reconcile --watch`) on
# the lab. A VM destroyed by hand runs again within seconds (a round started
# by libvirt's event, not by the 10 min timer); every action and state
# change is one JSON line; /metrics passes `promtool check metrics` and a
# real Prometheus server scrapes it; SIGHUP starts a round over new
# connections; a host whose libvirtd stops is reconnected when it is back;
# SIGTERM ends the loop with 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vem-lib.sh"

command -v curl >/dev/null || skip_all "curl is not installed"
lab_up
clean_lab_domains
W=$(mktemp -d)
export VEM_CACHE_DIR=$W/cache
RP= PP=
trap '[ -n "$RP" ] && kill $RP 2>/dev/null; [ -n "$PP" ] && kill $PP 2>/dev/null; wait 2>/dev/null;
	"$VEM_LAB" --id "$VEM_LAB_ID" start-host h3 >/dev/null 2>&1; clean_lab_domains; rm -rf "$W"' EXIT
PORT=$((19100 + LAB_ID))
PPORT=$((19300 + LAB_ID))

write_cluster "$W/c.yaml" <<YAML
vms:
  - {name: w, template: tiny, replicas: 3, placement: {spread: w}}
YAML

# event_round_with_action: a round started by an event that took one action
event_round_with_action() {
	grep '"VEM_TRIGGER":"event"' "$W/log" | grep -q '"VEM_ACTIONS":"1"'
}
# look_of ROUND: how round N looked ("light": state only, or "full")
look_of() {
	grep "\"VEM_ROUND\":\"$1\"," "$W/log" | sed -nE 's/.*"VEM_LOOK":"([a-z]+)".*/\1/p'
}

# metric NAME{LABELS}: its value in the current scrape (empty when absent)
metric() { curl -s "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

"$VEM" reconcile --watch --every 10m $FAST -f "$W/c.yaml" --log-format json \
	--metrics-listen "127.0.0.1:$PORT" --metrics-file "$W/vem.prom" >"$W/log" 2>"$W/err" &
RP=$!

test_expect_success 'the first round creates the VMs; each action is a JSON line' '
	wait_for "[ \$(grep -c \"\\\"VEM_EVENT\\\":\\\"action\\\"\" $W/log) -ge 3 ]" 60 &&
	wait_for "grep -q \"\\\"VEM_ROUND\\\":\\\"1\\\".*\\\"VEM_RESULT\\\":\\\"converged\\\"\" $W/log" 60 &&
	python3 -c "
import json, sys
n = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert e[\"PRIORITY\"] in \"34567\" and e[\"MESSAGE\"] and e[\"SYSLOG_IDENTIFIER\"] == \"vem\", e
    if e[\"VEM_EVENT\"] == \"action\":
        assert e[\"VEM_KIND\"] == \"create\" and e[\"VEM_RESULT\"] == \"ok\", e
        n += 1
assert n == 3, n
" "$W/log"
'

test_expect_success 'a VM destroyed by hand runs again within 10 s (event, not the timer)' '
	h=$(all_vms | awk "\$2 == \"w-0\" { sub(\"h\", \"\", \$1); print \$1 }") &&
	rounds=$(grep -c "\"VEM_EVENT\":\"round\"" "$W/log") &&
	virsh_h "$h" destroy w-0 >/dev/null && t0=$(date +%s.%N) &&
	wait_for "virsh_h $h domstate w-0 | grep -q running" 10 &&
	t1=$(date +%s.%N) &&
	python3 -c "import sys; print(\"repaired in %.2f s\" % (float(sys.argv[2]) - float(sys.argv[1])))" $t0 $t1 &&
	{ wait_for event_round_with_action 10 || { tail -n 8 "$W/log"; false; }; } &&
	grep -q "w-0 on h$h: stopped (destroyed).*\"VEM_EVENT\":\"state\"" "$W/log" &&
	grep -q "\"VEM_KIND\":\"start\",\"VEM_VM\":\"w-0\"" "$W/log" &&
	# the first round looked fully, the repair (a state change) with the
	# state only, and so did the round after it, which found nothing to do
	{ [ "$(look_of 1)" = full ] || { grep "\"round\"" "$W/log" | cut -c1-60,300-; false; }; } &&
	n=$(grep "\"VEM_TRIGGER\":\"event\"" "$W/log" | grep "\"VEM_ACTIONS\":\"1\"" |
		sed -nE "s/.*\"VEM_ROUND\":\"([0-9]+)\".*/\\1/p" | tail -n 1) &&
	{ [ "$(look_of "$n")" = light ] || { echo "round $n"; grep "\"round\"" "$W/log" | cut -c1-60,300-; false; }; } &&
	{ wait_for "[ \"\$(look_of $((n + 1)))\" = light ]" 10 || { grep "\"round\"" "$W/log" | cut -c1-60,300-; false; }; }
'

test_expect_success '/metrics: valid exposition (promtool), actions and VMs counted' '
	curl -sf "http://127.0.0.1:$PORT/metrics" >"$W/m" &&
	{ ! command -v promtool >/dev/null || promtool check metrics <"$W/m"; } &&
	[ "$(metric "vem_actions_total{kind=\"create\",result=\"ok\"}")" = 3 ] &&
	[ "$(metric "vem_actions_total{kind=\"start\",result=\"ok\"}")" -ge 1 ] &&
	[ "$(metric "vem_vms{state=\"running\"}")" = 3 ] &&
	[ "$(metric "vem_libvirt_events_total{kind=\"lifecycle\"}")" -ge 1 ] &&
	grep -q "^vem_source_info{cluster=\"e2e$LAB_ID\",revision=\"sha256:" "$W/m" &&
	curl -s -o /dev/null -w "%{http_code}" "http://127.0.0.1:$PORT/other" | grep -qx 404 &&
	curl -s -o /dev/null -w "%{http_code}" -X POST "http://127.0.0.1:$PORT/metrics" | grep -qx 405 &&
	grep -q "^vem_reconcile_duration_seconds_count" "$W/vem.prom"
'

if command -v prometheus >/dev/null; then
	mkdir -p "$W/prom"
	cat >"$W/prom/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: vem
    static_configs: [{targets: ["127.0.0.1:$PORT"]}]
YAML
	prometheus --config.file="$W/prom/prometheus.yml" --storage.tsdb.path="$W/prom/data" \
		--web.listen-address="127.0.0.1:$PPORT" >"$W/prom/log" 2>&1 &
	PP=$!
	test_expect_success 'a real Prometheus server scrapes vem: up{job="vem"} == 1, a vem metric' '
		q() { curl -sf "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1"; } &&
		wait_for "q \"up{job=\\\"vem\\\"} == 1\" | grep -q \"\\\"value\\\"\"" 60 &&
		wait_for "q \"vem_vms{state=\\\"running\\\"}\" | grep -q \"\\\"3\\\"\"" 30
	'
else
	test_skip 'a real Prometheus server scrapes vem' 'prometheus is not installed (Debian package prometheus)'
fi

test_expect_success 'SIGHUP: a round at once, over new connections' '
	kill -HUP $RP &&
	wait_for "grep -q \"\\\"VEM_TRIGGER\\\":\\\"reload\\\"\" $W/log" 20
'

test_expect_success 'a change held back is one refusal event, not one per round' '
	write_cluster "$W/c.yaml" <<YAML &&
vms:
  - {name: w, template: tiny, replicas: 3, placement: {spread: w}}
  - {name: huge, template: tiny, memory: 64GiB}
YAML
	n=$(grep -c "\"VEM_EVENT\":\"round\"" "$W/log") &&
	kill -HUP $RP &&
	wait_for "[ \$(grep -c \"\\\"VEM_EVENT\\\":\\\"round\\\"\" $W/log) -gt $n ]" 20 &&
	kill -HUP $RP &&
	wait_for "[ \$(grep -c \"\\\"VEM_EVENT\\\":\\\"round\\\"\" $W/log) -gt $((n + 1)) ]" 20 &&
	[ "$(grep "\"VEM_EVENT\":\"refusal\"" "$W/log" | grep -c "\"VEM_VM\":\"huge\"")" = 1 ] &&
	grep "\"VEM_EVENT\":\"round\"" "$W/log" | tail -n 1 | grep -q "\"VEM_RESULT\":\"not converged (changes held back)\"" &&
	[ "$(metric vem_held_changes)" = 1 ]
'

test_expect_success 'a host whose libvirtd stops is reconnected when it is back' '
	"$VEM_LAB" --id "$VEM_LAB_ID" stop-host h3 >/dev/null &&
	wait_for "grep -q \"host h3: connection lost\" $W/log" 40 &&
	"$VEM_LAB" --id "$VEM_LAB_ID" start-host h3 >/dev/null &&
	wait_for "grep -q \"host h3: connected again\" $W/log" 90 &&
	wait_for "[ \"\$(metric \"vem_host_reconnects_total{host=\\\"h3\\\"}\")\" -ge 1 ]" 10
'

# the loop is a child of this shell, not of a test body
kill -TERM $RP; loop_rc=0; wait $RP || loop_rc=$?; RP=
test_expect_success 'SIGTERM ends the loop with 0' '
	[ "$loop_rc" = 0 ] || { echo "exit $loop_rc"; tail -n 5 "$W/err"; false; }
'
test_done
