# Staff: joining by invitation, roles, removal (bot /start <token>, /invite, /staff and `salesop staff`).

staff-role-owner = Owner
staff-role-admin = Administrator
staff-role-manager = Manager
staff-role-analyst = Traffic analyst
staff-role-finance = Finance
staff-role-tech = Technical staff
staff-role-viewer = Viewer

## Joining through an invitation link

staff-joined = 👋 Welcome to { $tenant }! Your role: { $role }.
staff-joined-back = 👋 Welcome back to { $tenant }! Your role: { $role }.
staff-welcome-owner =
    What to do next:
    1. Create a Telegram group, turn Topics on and add me as an administrator with the rights “Manage topics”, “Pin messages”, “Delete messages” and “Ban users”.
    2. Send /connect { $slug } in that group: every customer dialog becomes a topic there.
    3. Connect your channels: a Telegram account with /connect_telegram here, a VK community with `salesop channel add vk`.
    4. /invite — invite managers and colleagues.
    5. /settings — working hours, reports and the AI.
staff-welcome-admin =
    What to do next:
    1. If the business has no managers' group yet: create a Telegram group, turn Topics on and add me as an administrator with the rights “Manage topics”, “Pin messages”, “Delete messages” and “Ban users”, then send /connect { $slug } there.
    2. Connect channels: a Telegram account with /connect_telegram here, a VK community with `salesop channel add vk`.
    3. /invite — invite managers and colleagues; /staff — roles and removal.
    4. /settings — working hours, reports and the AI.
staff-welcome-manager =
    You will be added to the managers' group. Each customer dialog is a topic there: write in the topic and your message goes to the customer; AI drafts come as cards with Send / Edit / Reject buttons.
staff-welcome-analyst = You can see the traffic and UTM reports in the Mini App.
staff-welcome-finance = You can see analytics and AI spend in the Mini App.
staff-welcome-tech = You can connect channels (/connect_telegram here) and keep the knowledge base, catalogue and media up to date.
staff-welcome-viewer = You can read dialogs and analytics; you cannot answer customers.
staff-welcome-other = The owner has set up what your role can do.

## /invite

invite-choose_tenant = Which business do you invite to?
invite-choose_role = Whom do you invite to { $tenant }? Choose a role:
invite-made =
    Invitation to { $tenant } as { $role }: single use, valid until { $expires } (UTC).
    Send this link to the person; they open it and press Start:
    { $link }
invite-made_no_link =
    Invitation to { $tenant } as { $role }: single use, valid until { $expires } (UTC).
    The person sends this to the bot:
    /start { $token }

## /staff

staff-choose_tenant = Whose staff do you want to see?
staff-list-title = { $tenant }: { $count ->
    [one] { $count } person
   *[other] { $count } people
}
staff-list-item = { $name }{ $username } — { $role }
staff-list-hint = Press a name to change the role or remove the person.
staff-person = { $name }{ $username } — { $role }. Choose a new role or remove them:
staff-confirm-remove = Remove { $name }? They lose access at once, are banned from the managers' groups, and their open dialogs lose their assignee.
staff-btn-remove = 🚫 Remove
staff-btn-confirm = Yes, remove
staff-btn-back = ← Back
staff-done-role = { $name } is now: { $role }.
staff-done-removed = { $name } is removed: banned from { $groups ->
    [one] { $groups } managers' group
   *[other] { $groups } managers' groups
}, { $dialogs ->
    [one] { $dialogs } open dialog is
   *[other] { $dialogs } open dialogs are
} now without an assignee.

## Command line (`salesop staff`, `salesop tenant create`)

staff-cli-invite_link = Invitation to { $tenant } as { $role }: single use, valid until { $expires } (UTC).
staff-cli-invite_token = No bot token is configured (SALESOP_BOT_TOKEN), so there is no link: the person sends /start { $token } to the bot.
staff-cli-owner_link = The owner opens this link (single use, valid until { $expires } UTC) and becomes the owner of { $tenant }:
staff-cli-owner_token = No bot token is configured (SALESOP_BOT_TOKEN): the owner sends /start { $token } to the bot (single use, valid until { $expires } UTC) and becomes the owner of { $tenant }.
staff-cli-no_bot = Could not ask Telegram for the bot's username ({ $error }); the person sends /start { $token } to the bot instead.
staff-cli-empty = { $tenant } has no staff yet: salesop staff invite --tenant { $tenant } --role owner
staff-cli-row = { $telegram_user_id }  { $name }{ $username }  { $role }{ $removed }
staff-cli-gone = {" "}(removed)
staff-cli-role_changed = { $name } is now { $role }.
staff-cli-removed = { $name } is removed: { $groups ->
    [one] { $groups } managers' group bans them
   *[other] { $groups } managers' groups ban them
}, { $dialogs ->
    [one] { $dialogs } open dialog is
   *[other] { $dialogs } open dialogs are
} without an assignee.

## Refusals

staff-error-no_permission = Only the owner or an administrator of the business can manage its staff.
staff-error-owner_only = Only an owner can make, change or remove an owner.
staff-error-tenant_unknown = No such business.
staff-error-role_unknown = There is no role “{ $role }”. Roles: { $roles }.
staff-error-staff_unknown = No staff member { $who } here.
staff-error-bad_ttl = An invitation can be valid from 1 minute to { $days } days.
staff-error-invite_unknown = This invitation link is not valid. Ask for a new one.
staff-error-invite_used = This invitation link has been used already. Ask for a new one.
staff-error-invite_expired = This invitation link has expired. Ask for a new one.
staff-error-already_staff = You already work for { $tenant }; the invitation is left for someone else.
staff-error-staff_removed = { $name } no longer works here.
staff-error-remove_self = You cannot remove yourself.
staff-error-last_owner = The business would be left without an owner: make someone else an owner first.
staff-error-not_staff = You are not staff of any business here. Ask the owner for an invitation link.
