"""Order status socket (issue 6 fills this in)."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class OrderStatusConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.close()
