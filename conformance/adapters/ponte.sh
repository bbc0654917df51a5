#!/bin/sh
# The `cli:` adapter for Ponte's own binary: runs one case (described by the CONFORMANCE_*
# environment the runner sets, see conformance/README.md) with the ponte commands a person
# would type, and writes the observation to $CONFORMANCE_OUT. A harness measuring another
# implementation writes the same kind of script around its own tool.
#
#   ponte conformance run --subject "cli:sh conformance/adapters/ponte.sh /path/to/ponte"
#
# Operations: verify (ponte verify), evidence (ponte evidence verify), translate (ponte
# translate, then ponte verify on the output, and the output translated back with back=true).
# prepare and daticert have no command of their own: those cases are inproc only.
set -eu
set -f # file names are never globbed
ponte=${1:?usage: ponte.sh PONTE_BINARY}
op=$CONFORMANCE_OP
in=$CONFORMANCE_IN
out=$CONFORMANCE_OUT
work=$CONFORMANCE_WORK
at=${CONFORMANCE_PARAM_AT:-$CONFORMANCE_NOW}
nl='
'

# Appends "FLAG ITEM" to the positional parameters for each line of a list parameter.
add_list() { # FLAG LIST
    flag=$1
    list=$2
    old_ifs=$IFS
    IFS=$nl
    for item in $list; do
        [ -n "$item" ] && set_args="$set_args$nl$flag$nl$item"
    done
    IFS=$old_ifs
}

# Runs ponte with the arguments gathered in $set_args (one per line), stdout to $1.
run() { # STDOUT-FILE ARG...
    dest=$1
    shift
    old_ifs=$IFS
    IFS=$nl
    # shellcheck disable=SC2086
    set -- "$@" $set_args
    IFS=$old_ifs
    code=0
    "$ponte" "$@" >"$dest" 2>>"$work/stderr.txt" || code=$?
    return 0
}

# The JSON object in $1 with ,"KEY":<contents of $3> appended ($3 empty: null).
merge() { # OBJECT-FILE KEY VALUE-FILE
    if [ -s "$3" ]; then
        sed '$ s/}[[:space:]]*$//' "$1"
        printf ',"%s":' "$2"
        cat "$3"
        printf '}\n'
    else
        sed '$ s/}[[:space:]]*$//' "$1"
        printf ',"%s":null}\n' "$2"
    fi
}

# The JSON object in $1 with ,"exit":$2 appended.
with_exit() { # OBJECT-FILE CODE
    sed '$ s/}[[:space:]]*$//' "$1"
    printf ',"exit":%s}\n' "$2"
}

case "$op" in
verify)
    set_args=
    add_list --trust "${CONFORMANCE_PARAM_TRUST:-}"
    add_list --tsa-trust "${CONFORMANCE_PARAM_TSA_TRUST:-}"
    run "$out" verify "$in" --at "$at" --json
    exit "$code"
    ;;
evidence)
    set_args=
    add_list --trust "${CONFORMANCE_PARAM_TRUST:-}"
    add_list --tsa-trust "${CONFORMANCE_PARAM_TSA_TRUST:-}"
    run "$out" evidence verify "$in" --at "$at" --json
    exit "$code"
    ;;
translate)
    config=${CONFORMANCE_PARAM_CONFIG:?translate needs param config}
    to=${CONFORMANCE_PARAM_TO:?translate needs param to}
    # The inputs translated first (the envelope before its receipts), one per line; their
    # reports, each with its exit code, become "before".
    n=0
    printf '[' >"$work/before.json"
    old_ifs=$IFS
    IFS=$nl
    for b in ${CONFORMANCE_PARAM_BEFORE:-}; do
        IFS=$old_ifs
        n=$((n + 1))
        set_args=
        run "$work/b.json" translate "$b" --to "$to" --config "$config" --at "$at" -o "$work/before.$n.eml" --json
        [ "$n" -gt 1 ] && printf ',' >>"$work/before.json"
        if [ -s "$work/b.json" ]; then
            with_exit "$work/b.json" "$code" | tr -d '\n' >>"$work/before.json"
        else
            printf '{"exit":%s}' "$code" >>"$work/before.json"
        fi
        IFS=$nl
    done
    IFS=$old_ifs
    printf ']\n' >>"$work/before.json"
    set_args=
    run "$work/translate.json" translate "$in" --to "$to" --config "$config" --at "$at" -o "$work/output.eml" --json
    main=$code
    if [ ! -s "$work/translate.json" ]; then
        exit "$main" # unreadable input or configuration: the exit code says it
    fi
    merge "$work/translate.json" before "$work/before.json" >"$work/acc.json"
    if [ -f "$work/output.eml" ]; then
        # The first output, verified as `ponte verify` does, at its signing time.
        set_args=
        add_list --trust "${CONFORMANCE_PARAM_OUTPUT_TRUST:-}"
        add_list --tsa-trust "${CONFORMANCE_PARAM_OUTPUT_TSA_TRUST:-}"
        run "$work/verify.json" verify "$work/output.eml" --at signing-time --json
        merge "$work/acc.json" output_verify "$work/verify.json" >"$work/acc2.json"
        mv "$work/acc2.json" "$work/acc.json"
        if [ "${CONFORMANCE_PARAM_BACK:-}" = true ]; then
            if [ "$to" = rem ]; then back=pec; else back=rem; fi
            set_args=
            run "$work/back.json" translate "$work/output.eml" --to "$back" --config "$config" --at "$at" -o "$work/back.eml" --json
            if [ -s "$work/back.json" ]; then
                with_exit "$work/back.json" "$code" >"$work/back2.json"
            else
                printf '{"exit":%s}\n' "$code" >"$work/back2.json"
            fi
            merge "$work/acc.json" back "$work/back2.json" >"$work/acc2.json"
            mv "$work/acc2.json" "$work/acc.json"
        fi
    fi
    with_exit "$work/acc.json" "$main" >"$out"
    exit "$main"
    ;;
*)
    echo "ponte.sh: operation $op has no ponte command (inproc only)" >&2
    exit 3
    ;;
esac
