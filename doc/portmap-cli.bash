# bash completion for portmap-cli                              -*- shell-script -*-
_portmap_cli()
{
    # plain COMP_WORDS: works without the bash-completion package
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local -a words=("${COMP_WORDS[@]}")
    local cword=$COMP_CWORD

    local commands="request release discover external-ip list audit check cleanup serve-check help"
    # what every command that asks the router takes, then each command's own
    # (as tools/cli/commands.c has them)
    local router="--protocol --gateway --interface --timeout --json -4 -6 --ipv4 --ipv6"
    local always="--verbose --help --version"
    case $prev in
    --protocol)
        COMPREPLY=($(compgen -W "auto pcp natpmp upnp" -- "$cur"))
        return
        ;;
    --interface)
        COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur"))
        return
        ;;
    --cacert)
        COMPREPLY=($(compgen -f -- "$cur"))
        return
        ;;
    --lifetime | --external-port | --description | --allow | --gateway | --timeout | --via | \
        --listen | --ports | --internal-address)
        return
        ;;
    esac
    local i cmd="" nargs=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        # an option's value is not a command or an argument
        --protocol | --lifetime | --external-port | --description | --allow | --gateway | \
            --timeout | --via | --listen | --interface | --ports | --cacert | --internal-address)
            ((i++))
            ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then cmd=${words[i]}; else ((nargs++)); fi
            ;;
        esac
    done
    if [[ $cur == -* ]]; then
        local opts
        case $cmd in
        request) opts="$router --lifetime --external-port --description --allow --once
                       --internal-address" ;;
        release) opts="$router --internal-address" ;;
        discover | external-ip | cleanup) opts=$router ;;
        list) opts="$router --ports" ;;
        audit) opts="$router --prune --ports" ;;
        check) opts="$router --external-port --via --cacert" ;;
        serve-check) opts="--listen" ;;
        *) opts="$router --lifetime --external-port --description --allow --once --prune --via
                 --cacert --listen --ports --internal-address" ;;
        esac
        COMPREPLY=($(compgen -W "$opts $always" -- "$cur"))
        return
    fi
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    case $cmd in
    help)
        ((nargs == 0)) && COMPREPLY=($(compgen -W "${commands% help}" -- "$cur"))
        ;;
    request | release | check)
        # PORT PROTO pairs: offer the protocol after each port
        ((nargs % 2 == 1)) && COMPREPLY=($(compgen -W "tcp udp" -- "$cur"))
        ;;
    esac
} &&
    complete -F _portmap_cli portmap-cli
