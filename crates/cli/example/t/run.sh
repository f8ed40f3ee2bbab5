#!/bin/sh
# A TAP test suite: hoist counts the plan and refuses a deploy with fewer tests.
echo "1..3"
test -s public/index.html && echo "ok 1 - index exists"
grep -q "Release" public/index.html && echo "ok 2 - index names its release"
test -x bin/restart -o -f bin/restart && echo "ok 3 - restart script present"
