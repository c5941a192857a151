## Mini App: справка для сотрудников (webapp/api/help.py; сами страницы — docs/help/<ru|en>/*.md).

miniapp-help-title = Справка
miniapp-help-contents = ← Все страницы справки
miniapp-help-missing = Страницы справки «{ $page }» нет.
miniapp-help-bot_button = 📖 Справка в приложении
