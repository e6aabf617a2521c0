# bash completion for portmap-cli                              -*- shell-script -*-
_portmap_cli()
{
    # plain COMP_WORDS: works without the bash-completion package
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local -a words=("${COMP_WORDS[@]}")
    local cword=$COMP_CWORD

    local commands="request release discover external-ip list audit check cleanup serve-check"
    local opts="--protocol --lifetime --external-port --description --allow --gateway --timeout
                --via --listen --once --prune --json --verbose --help --version -4 -6 --ipv4 --ipv6"
    case $prev in
    --protocol)
        COMPREPLY=($(compgen -W "auto pcp natpmp upnp" -- "$cur"))
        return
        ;;
    --lifetime | --external-port | --description | --allow | --gateway | --timeout | --via | --listen)
        return
        ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    local i cmd="" nargs=0
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
        --protocol | --lifetime | --external-port | --description | --allow | --gateway | --timeout | --via | --listen)
            ((i++))
            ;;
        -*) ;;
        *)
            if [[ -z $cmd ]]; then cmd=${words[i]}; else ((nargs++)); fi
            ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        return
    fi
    case $cmd in
    request | release | check)
        # PORT PROTO pairs: offer the protocol after each port
        ((nargs % 2 == 1)) && COMPREPLY=($(compgen -W "tcp udp" -- "$cur"))
        ;;
    esac
} &&
    complete -F _portmap_cli portmap-cli
