# Shared by scripts/diem-agent, scripts/diem-gateway and scripts/diemctl (sourced, not run).
# Finds a Java >= 17 and the program's jar, then execs it. Callers set JAR_NAME, MODULE and MAIN.
#
# Jar lookup order: $DIEM_HOME/lib/$JAR_NAME (installed), then <repo>/$MODULE/target/$JAR_NAME (built).
# Java lookup order: $DIEM_JAVA, $DIEM_HOME/runtime/bin/java, $JAVA_HOME/bin/java, java on PATH.

diem_find_java() {
    local candidate
    for candidate in "${DIEM_JAVA:-}" "${DIEM_HOME:+$DIEM_HOME/runtime/bin/java}" \
                     "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java 2>/dev/null)"; do
        [ -n "$candidate" ] && [ -x "$candidate" ] || continue
        local major
        major=$("$candidate" -XshowSettings:properties -version 2>&1 \
            | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')
        if [ -n "$major" ] && [ "$major" -ge 17 ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: no Java 17 or newer found (set JAVA_HOME or DIEM_JAVA, or install openjdk-17-jre-headless)" >&2
    return 1
}

diem_find_jar() {
    local repo
    repo=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
    for candidate in "${DIEM_HOME:+$DIEM_HOME/lib/$JAR_NAME}" "$repo/$MODULE/target/$JAR_NAME"; do
        if [ -n "$candidate" ] && [ -f "$candidate" ]; then
            echo "$candidate"
            return 0
        fi
    done
    echo "error: $JAR_NAME not found; build it with ./mvnw -B -DskipTests package (in $repo), or set DIEM_HOME" >&2
    return 1
}

diem_exec() {
    local java jar
    java=$(diem_find_java) || exit 1
    jar=$(diem_find_jar) || exit 1
    if [ -n "${DIEM_STDERR_DROP:-}" ]; then
        # shellcheck disable=SC2086 # JAVA_OPTS is a list of options on purpose
        exec "$java" ${JAVA_OPTS:-} -cp "$jar" "$MAIN" "$@" 2> >(grep --line-buffered -v -e "$DIEM_STDERR_DROP" >&2)
    fi
    # shellcheck disable=SC2086 # JAVA_OPTS is a list of options on purpose
    exec "$java" ${JAVA_OPTS:-} -cp "$jar" "$MAIN" "$@"
}
