## Mini App: help for staff (webapp/api/help.py; the pages themselves are docs/help/<ru|en>/*.md).

miniapp-help-title = Help
miniapp-help-contents = ← All help pages
miniapp-help-missing = There is no help page “{ $page }”.
miniapp-help-bot_button = 📖 Help in the app
