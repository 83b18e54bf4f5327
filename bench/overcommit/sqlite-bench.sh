#!/bin/sh
# sqlite-bench.sh CLIENTS TRANSACTIONS: the overcommit rig's database workload (run in the guest).
# CLIENTS sqlite3 processes each commit TRANSACTIONS small write transactions (an insert and an
# update of a random row) to one WAL database on tmpfs: file locks, busy waits and wakeups.
clients="$1" txns="$2" db=/tmp/oc-sqlite.db
rm -f "$db" "$db-wal" "$db-shm"
sqlite3 "$db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, c INT, v TEXT);
  INSERT INTO t(c, v) VALUES (0, 'seed');" >/dev/null || exit 1
c=0
while [ "$c" -lt "$clients" ]; do
  c=$(( c + 1 ))
  awk -v c="$c" -v n="$txns" 'BEGIN {
    print ".timeout 60000"
    for (i = 0; i < n; i++)
      print "BEGIN IMMEDIATE; INSERT INTO t(c, v) VALUES (" c ", hex(randomblob(32)));" \
            " UPDATE t SET c = c + 1 WHERE id = 1 + abs(random()) % (SELECT max(id) FROM t); COMMIT;"
  }' | sqlite3 "$db" >/dev/null &
done
wait
[ "$(sqlite3 "$db" 'SELECT count(*) FROM t;')" = "$(( clients * txns + 1 ))" ]
