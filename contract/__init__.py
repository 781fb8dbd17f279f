"""The data contract: the input tables, their validation, the data configuration and the
errors a user can fix from the message alone. The bottom layer: it imports no other
package of the project."""
