## The model's tools (core/ai/tools.py): a lead the AI passed to a manager and its card in the dialog's topic.

tools-lead-card = 📝 <b>Customer's request</b> (passed on by the AI, waiting for approval)
    Product: { $product }
    Quantity: { $quantity }
    Name: { $name }
    Contact: { $contact }
    Comment: { $comment }
tools-lead-approve = ✅ Record the lead
tools-lead-reject = ✖️ Reject
tools-lead-approved = ✅ Lead #{ $lead } recorded ({ $manager }): { $product } × { $quantity }.
tools-lead-rejected = ✖️ Lead #{ $lead } rejected ({ $manager }).
tools-lead-toast-approved = Lead recorded.
tools-lead-toast-rejected = Lead rejected.
tools-lead-handled = This lead has already been decided.
tools-lead-unknown = There is no such lead.
