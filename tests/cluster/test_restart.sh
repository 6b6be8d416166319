# Every node is killed with SIGKILL and restarted: the state is intact
# (recovered from the record log) and the cluster commits again.
source "$(dirname "$0")/lib.sh"
cluster_init restart 17540

cluster start --n 4 > /dev/null
for i in $(seq 1 20); do vctl put "key$i" "value$i" > /dev/null; done
for i in 0 1 2 3; do cluster kill "$i"; done
for i in 0 1 2 3; do cluster restart "$i"; done
cluster wait > /dev/null
# Every key survived; spot-check a spread of them (each fresh voidctl starts
# in view 0 and pays one retry timeout to find the new primary).
for i in 1 7 13 20; do expect_eq "$(vctl get "key$i" --timeout 10)" "value$i" "key$i after restart"; done
vctl put after-restart yes > /dev/null
expect_eq "$(vctl get after-restart)" "yes" "write after restart"
echo "ok"
