## A manager group that cannot take work — the bot lacks a right there, topics are off, or the bot was removed —
## told once in its General topic and privately to the owners and admins who talked to the bot, and told again when
## it works (core/services/workspace.py: groups that cannot work).

# A text already made in the reader's language (a private message to an owner or admin).
groups-text = { $text }

groups-general-broken = ⚠️ { $problem ->
        [topics] Topics are turned off in this group
       *[rights] The bot lacks an administrator right in this group: { $right ->
            [can_manage_topics] manage topics
            [can_pin_messages] pin messages
            [can_delete_messages] delete messages
            [can_restrict_members] ban users
           *[other] send messages
        }
    }, so customer dialogs cannot get their topics here. { $moved ->
        [0] They wait, nothing is lost: they appear here once it is fixed.
        [one] One dialog moved to “{ $moved_to }”, and new ones go there meanwhile.
       *[other] { $moved } dialogs moved to “{ $moved_to }”, and new ones go there meanwhile.
    }
    How to fix: { $problem ->
        [topics] turn on Topics in the group's settings, then send /connect here.
       *[rights] make the bot an administrator with the rights to manage topics, pin messages, delete messages and ban users — the bot notices by itself.
    }

groups-owner-broken = ⚠️ Manager group “{ $title }”: { $problem ->
        [removed] the bot was removed from it
        [topics] topics are turned off
       *[rights] the bot lacks an administrator right there: { $right ->
            [can_manage_topics] manage topics
            [can_pin_messages] pin messages
            [can_delete_messages] delete messages
            [can_restrict_members] ban users
           *[other] send messages
        }
    }. { $moved ->
        [0] Customer dialogs meant for it wait, nothing is lost: they appear there once it is fixed.
        [one] One dialog moved to “{ $moved_to }”, and new ones go there meanwhile.
       *[other] { $moved } dialogs moved to “{ $moved_to }”, and new ones go there meanwhile.
    }
    How to fix: { $problem ->
        [removed] add the bot to the group again as an administrator with the rights to manage topics, pin messages, delete messages and ban users.
        [topics] turn on Topics in the group's settings, then send /connect there.
       *[rights] make the bot an administrator of the group with the rights to manage topics, pin messages, delete messages and ban users — the bot notices by itself.
    }

groups-general-fixed = ✅ The bot can work here again. { $dialogs ->
        [0] Nothing was waiting.
        [one] The dialog that waited is being filled in now, in order.
       *[other] The { $dialogs } dialogs that waited are being filled in now, in order.
    }

groups-owner-fixed = ✅ Manager group “{ $title }” works again. { $dialogs ->
        [0] Nothing was waiting.
        [one] The dialog that waited is being filled in now, in order.
       *[other] The { $dialogs } dialogs that waited are being filled in now, in order.
    }

# /status: a group's line when work waits for it to be fixed.
groups-status-parked = — { $count ->
        [one] 1 message waits for it
       *[other] { $count } messages wait for it
    }
